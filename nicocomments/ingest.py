"""The import job: store the comments of other tools' files, de-duplicated, with provenance.

`import_files` is to files what `nicocomments.collect` is to the network: it finds the files
behind each path (directories, zip archives member by member), recognises their format, runs
the reader of `nicocomments.formats` over each and stores what it yields.

Every file (every member of a zip archive) gets its own ``fetch_runs`` row (protocol and mode
``import``, ``source`` = the file) and goes into the same tables as fetched comments, through
`store.save_comments`, so a comment already stored (same thread, fork and no) is never stored
twice and importing a file again adds nothing.

A file is read once, streaming, and stored in batches of `BATCH_SIZE` comments, one transaction
each, so nothing ever holds a whole file. If the file turns out to be malformed halfway (or the
import is interrupted, or the database fails), everything the run stored is deleted again: the
comments it was the first to store (``comments.run_id``), the threads and the video row it
created; the run is marked failed with the reason. So after any failure the rows of that file
are either all there or none are. (After ``kill -9`` the run stays "running" with the rows it had
committed; importing the file again completes it.)

Rules for what a format leaves out (the README's "Import formats" section says the same):

* **No comment number** (NII 2018+ lines; live-broadcast XML, where every chat has
  ``no="-1"``): the n-th such comment of a (thread, fork) in the file gets ``no = -n``. Servers
  number from 1, so a negative ``no`` always means "numbered by nico, in file order", can never
  collide with a real number, and the same file always gets the same numbers (re-importing it
  adds nothing).
* **No thread id**: NII lines go to thread ``nii:<video id>``; yt-dlp's flattened comment lists
  to ``ytdlp:<video id>`` (see `formats.ytdlp.read_ytdlp` for how its forks are told apart).
* **No video id in the file**: taken from the file name (``sm9.jsonl``,
  ``Title [sm9].comments.json``) or given with ``--video``; XML and v1 files fall back to their
  thread id.
* **Dates without a zone** (NII ISO strings, a v1 ``postedAt``): Japan time (`records.JST`),
  the site's own zone. (The comment server always names the zone; `nicocomments.nvcomment`
  refuses an answer that does not.)
"""

from __future__ import annotations

import logging
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from nicocomments import formats, store
from nicocomments.errors import BadInput, DatabaseError, NicoError
from nicocomments.formats import (
    HEAD_BYTES,
    IMPORT_FORMATS,
    NEEDS_VIDEO,
    RANDOM_ACCESS,
    Item,
    MalformedFile,
    VideoHint,
    sniff_format,
)
from nicocomments.formats.common import prefixed
from nicocomments.ids import video_id_from_name
from nicocomments.limits import comments_problem, shown, status_problem
from nicocomments.records import Comment, ThreadStatus

log = logging.getLogger(__name__)

BATCH_SIZE = 10_000
FILE_SUFFIXES = (".xml", ".json", ".jsonl", ".dat", ".csv", ".parquet")
ARCHIVE_SUFFIXES = (".zip",)
NOTHING_STORED = "nothing of it was stored"


@dataclass(frozen=True)
class Source:
    """One file to import: a file on disk, or one member of a zip archive."""

    name: str  # what fetch_runs.source records: the path, or "archive.zip!dir/sm9.jsonl"
    file_name: str  # the base name, where a video id may be found
    open: Callable[[], IO[bytes]]
    path: Path | None = None  # the file itself, when it is one (not an archive's member)


@dataclass
class ImportResult:
    """What became of one file."""

    source: str
    format: str | None = None
    video_id: str | None = None
    run_id: int | None = None
    read: int = 0  # comments read from the file, duplicates included
    added: int = 0  # comments that were new to the database
    error: NicoError | None = None


# --- finding files ----------------------------------------------------------------------------


def iter_sources(path: Path) -> Iterator[Source]:
    """The files behind one PATH argument: the file itself, every member of a zip archive (opened
    one at a time, decompressed as it is read), or every supported file under a directory."""
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.suffix.lower() in FILE_SUFFIXES + ARCHIVE_SUFFIXES:
                yield from iter_sources(child)
        return
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        yield from _zip_members(path)
        return
    yield Source(str(path), path.name, lambda: open(path, "rb"), path)  # noqa: SIM115


def _zip_members(path: Path) -> Iterator[Source]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadInput(f"{path}: not a readable zip archive ({exc})") from None
    with archive:
        for info in archive.infolist():
            member = info.filename
            if info.is_dir() or not member.lower().endswith(FILE_SUFFIXES):
                continue
            yield Source(
                f"{path}!{member}",
                member.rsplit("/", 1)[-1],
                lambda member=member: archive.open(member),
            )


# --- the job ------------------------------------------------------------------------------------


def import_files(
    engine: Engine,
    paths: Sequence[Path],
    *,
    fmt: str = "auto",
    video_id: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[ImportResult]:
    """Import every file behind ``paths`` (files, directories, zip archives), one result each.

    A file that cannot be imported does not stop the others: its result carries the error."""
    check_format(fmt)
    for path in paths:
        try:
            for source in iter_sources(path):
                yield import_source(
                    engine, source, fmt=fmt, video_id=video_id, batch_size=batch_size
                )
        except BadInput as exc:  # the path itself: missing, or not a readable archive
            yield ImportResult(str(path), error=exc)


def import_source(
    engine: Engine,
    source: Source,
    *,
    fmt: str = "auto",
    video_id: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    job = _Import(engine, source, video_id, batch_size)
    try:
        with source.open() as stream:
            head = stream.read(HEAD_BYTES)
            job.result.format = fmt if fmt != "auto" else sniff_format(head, source.file_name)
            if job.result.format in RANDOM_ACCESS:
                stream.seek(0)
            else:
                stream = prefixed(head, stream)
            job.consume(formats.read_items(job.result.format, stream, job.needed_video()))
        job.finish()
        store.sync_search_index(engine)
    except KeyboardInterrupt:
        job.undo("interrupted", "interrupted by the user")
        raise
    except NicoError as exc:
        job.undo("failed", str(exc))
        job.result.error = exc.but(where=f"cannot import {source.name}", hint=NOTHING_STORED)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError) as exc:
        job.undo("failed", f"unreadable: {exc}")
        job.result.error = BadInput(
            str(exc), where=f"cannot read {source.name}", hint=NOTHING_STORED
        )
    except sa_exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", exc)).splitlines()[0]
        job.undo("failed", f"database error: {detail}")
        job.result.error = DatabaseError(detail, where=f"cannot store {source.name}")
    return job.result


def check_format(fmt: str) -> None:
    """Refuse a ``--format`` that is neither ``auto`` nor one of `formats.IMPORT_FORMATS`."""
    if fmt != "auto" and fmt not in IMPORT_FORMATS:
        choices = ", ".join(IMPORT_FORMATS)
        raise BadInput(f"unknown format {shown(fmt)}: choose auto or one of {choices}")


@dataclass
class _Import:
    """The state of one file's import: its batch, what it created, its run."""

    engine: Engine
    source: Source
    video_option: str | None
    batch_size: int
    result: ImportResult = field(init=False)
    batch: list[Comment] = field(default_factory=list)
    statuses: dict[tuple[str, str], dict] = field(default_factory=dict)
    ensured: set[tuple[str, str]] = field(default_factory=set)
    hint: str | None = None
    added_threads: list[tuple] = field(default_factory=list)
    added_video: str | None = None
    first_thread: str | None = None
    video_ensured: bool = False

    def __post_init__(self) -> None:
        self.result = ImportResult(self.source.name)

    def needed_video(self) -> str | None:
        """The video id of formats that cannot do without one (their thread ids are made of it)."""
        if self.result.format not in NEEDS_VIDEO:
            return None
        video = self.video_option or video_id_from_name(self.source.file_name)
        if video is None:
            raise MalformedFile(
                "the file does not say which video it holds: name it after the video "
                "(sm9.jsonl, 'Title [sm9].comments.json') or pass --video"
            )
        self.result.video_id = video
        return video

    def consume(self, items: Iterable[Item]) -> None:
        batch = self.batch
        for item in items:
            if type(item) is Comment:
                batch.append(item)
                if len(batch) >= self.batch_size:
                    self.flush()
            elif isinstance(item, ThreadStatus):
                if (problem := status_problem(item)) is not None:
                    raise MalformedFile(problem)
                self._remember(item)
            elif isinstance(item, VideoHint) and self.hint is None:
                self.hint = item.video_id

    def _remember(self, status: ThreadStatus) -> None:
        if not status.thread_id:
            return
        known = self.statuses.setdefault((status.thread_id, status.fork), {})
        for column in ("last_res", "comment_count", "server_time"):
            value = getattr(status, column)
            if value is not None:
                known[column] = max(value, known.get(column) or value)
        self.first_thread = self.first_thread or status.thread_id

    def flush(self) -> None:
        batch = self.batch
        if (problem := comments_problem(batch)) is not None:
            raise MalformedFile(problem)
        if batch and self.first_thread is None:
            self.first_thread = batch[0].thread_id
        video = self._video()
        if self.result.run_id is None:
            self.result.run_id = self._start_run(video)
        keys = {(c.thread_id, c.fork) for c in batch} | self.statuses.keys()
        new = [
            {"thread_id": t, "fork": f, **self.statuses.get((t, f), {})}
            for t, f in sorted(keys - self.ensured)
        ]

        def save(connection) -> tuple[bool, list[tuple], int]:
            # Changes nothing but the database: `store.save_retrying` may run it again.
            created_video, created_threads, added = False, [], 0
            if video is not None and not self.video_ensured:
                created_video = not store.video_exists(connection, video)
                store.ensure_video(connection, video, store.now_utc())
            if batch:
                added = store.save_comments(connection, video, self.result.run_id, batch)
            if video is not None:  # threads after comments, as every writer orders them
                created_threads = store.ensure_threads(connection, video, new)
            store.add_to_run(connection, self.result.run_id, pages=1, comments_added=added)
            return created_video, created_threads, added

        created_video, created_threads, added = store.save_retrying(self.engine, save)
        if video is not None:
            if created_video:
                self.added_video = video
            self.video_ensured = True
            self.added_threads += created_threads
            self.ensured |= {(row["thread_id"], row["fork"]) for row in new}
        self.result.read += len(batch)
        self.result.added += added
        batch.clear()

    def _video(self) -> str | None:
        if self.result.video_id is None:
            self.result.video_id = (
                self.video_option
                or self.hint
                or video_id_from_name(self.source.file_name)
                or self._known_video()
                or self.first_thread
            )
        return self.result.video_id

    def _known_video(self) -> str | None:
        if self.first_thread is None:
            return None
        with self.engine.connect() as connection:
            return store.video_of_threads(connection, [self.first_thread])

    def _start_run(self, video: str | None) -> int:
        return store.start_run(
            self.engine,
            video_id=video,
            protocol="import",
            mode="import",
            options={"format": self.result.format},
            source=self.source.name,
        )

    def finish(self) -> None:
        if self.batch or self.result.run_id is None or self.statuses.keys() - self.ensured:
            self.flush()
        store.finish_run(self.engine, self.result.run_id, "completed")

    def undo(self, status: str, error: str) -> None:
        """Delete what this file's run stored, and record why it stopped."""
        self.batch.clear()
        if self.result.run_id is None:
            self.result.run_id = self._start_run(self.result.video_id)
        store.save_retrying(
            self.engine,
            lambda connection: store.discard_run(
                connection,
                self.result.run_id,
                added_threads=self.added_threads,
                added_video=self.added_video,
            ),
        )
        store.finish_run(self.engine, self.result.run_id, status, error=error)
        self.result.added = 0
        log.info("%s: %s; what it had stored was removed", self.source.name, error)
