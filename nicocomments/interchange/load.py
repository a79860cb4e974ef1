"""`import_files`: store the comments of other tools' files, de-duplicated, with provenance.

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
"""

from __future__ import annotations

import logging
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from nicocomments import store
from nicocomments.errors import BadInput, DatabaseError, NicoError
from nicocomments.export.parquet import read_parquet
from nicocomments.export.text import read_csv, read_jsonl
from nicocomments.importers import (
    FORMATS,
    HEAD_BYTES,
    Item,
    MalformedFile,
    Source,
    VideoHint,
    iter_sources,
    prefixed,
    read_apijson,
    read_nii,
    read_v1,
    read_ytdlp,
    sniff_format,
    video_id_from_name,
)
from nicocomments.interchange.packet import read_packet
from nicocomments.limits import comments_problem, status_problem
from nicocomments.records import Comment, ThreadStatus

log = logging.getLogger(__name__)

BATCH_SIZE = 10_000
NEEDS_VIDEO = ("nii", "ytdlp")  # formats whose thread ids are made from the video id
RANDOM_ACCESS = ("parquet",)  # formats read from the file itself, not as a stream


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
    if fmt != "auto" and fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r}: choose auto or one of {', '.join(FORMATS)}")
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
            job.consume(_read(job.result.format, stream, job.needed_video()))
        job.finish()
        store.sync_search_index(engine)
    except KeyboardInterrupt:
        job.undo("interrupted", "interrupted by the user")
        raise
    except NicoError as exc:
        job.undo("failed", str(exc))
        job.result.error = _wrapped(exc, f"cannot import {source.name}: {exc}")
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError) as exc:
        job.undo("failed", f"unreadable: {exc}")
        job.result.error = BadInput(f"cannot read {source.name}: {exc}; nothing of it was stored")
    except sa_exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", exc)).splitlines()[0]
        job.undo("failed", f"database error: {detail}")
        job.result.error = DatabaseError(f"cannot store {source.name}: {detail}")
    return job.result


def _wrapped(exc: NicoError, message: str) -> NicoError:
    """The same kind of error (and exit status), saying which file and that it left nothing."""
    message = f"{message}; nothing of it was stored"
    for kind in (BadInput, DatabaseError):
        if isinstance(exc, kind):
            return kind(message)
    wrapped = NicoError(message)
    wrapped.exit_status = exc.exit_status
    return wrapped


def _read(kind: str, stream: IO[bytes], video_id: str | None) -> Iterable[Item]:
    if kind == "xml":
        return read_packet(stream)
    if kind == "v1":
        return read_v1(stream)
    if kind == "apijson":
        return read_apijson(stream)
    if kind == "ytdlp":
        return read_ytdlp(stream, video_id or "")
    if kind == "nii":
        return read_nii(stream, video_id or "")
    return {"jsonl": read_jsonl, "csv": read_csv, "parquet": read_parquet}[kind](stream)


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
            # Changes nothing but the database: `store.write_retrying` may run it again.
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

        created_video, created_threads, added = store.write_retrying(self.engine, save)
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
        store.write_retrying(
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
