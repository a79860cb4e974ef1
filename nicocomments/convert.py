"""The conversion job: comment files → a Parquet dataset (``nico import PATH… --to DIR``).

What `nicocomments.ingest` does for a database, for a dataset (`formats.dataset`): the same
files (directories, zip archives member by member), the same formats and the same rules, so
a file gives the same rows in a dataset as in SQLite (tested). The difference is the engine:

* **NII files** (the format of whole releases: millions of files, billions of lines) never
  pass through Python line by line. Members are copied out of their archive in batches of
  about `BATCH_BYTES` (a member larger than `CHUNK_BYTES` in pieces, cut at line ends) and
  DuckDB reads and parses them (`formats.nii.nii_lines_sql`, on all cores: the wide rows,
  stored once), numbers and de-duplicates them (`nii_numbers_sql`: narrow rows) and writes
  them. Memory stays bounded by the batch and DuckDB's ``memory_limit`` (it spills to a
  directory inside the dataset), whatever the size of the release.
* **Other formats** are read by their `formats` reader, as ``nico import`` reads them, and
  written by DuckDB from Arrow batches.

The unit of work is an archive (or a file given on its own, or the loose files of a
directory): its files in the dataset carry its name, so importing it again replaces them, and
the manifest (`formats.dataset.read_manifest`) records it when complete, so a run that was
interrupted resumes with the first archive not done. A file that turns out to be malformed is
left out whole (its error reported, as ``nico import`` does); the others are written.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nicocomments import formats
from nicocomments.errors import BadInput, NicoError
from nicocomments.formats import HEAD_BYTES, RANDOM_ACCESS, MalformedFile, VideoHint, dataset
from nicocomments.formats.common import prefixed
from nicocomments.formats.nii import (
    NII_PROBLEMS,
    first_undecodable_line,
    nii_lines_sql,
    nii_numbers_sql,
    nii_raw_objects_sql,
    nii_rows_sql,
    nii_text_objects_sql,
)
from nicocomments.ids import video_id_from_name
from nicocomments.ingest import (
    ARCHIVE_SUFFIXES,
    FILE_SUFFIXES,
    NOTHING_STORED,
    ImportResult,
    Source,
    check_format,
    iter_sources,
)
from nicocomments.limits import comments_problem
from nicocomments.records import Comment

BATCH_BYTES = 256 * 2**20  # NII text handed to DuckDB at once
CHUNK_BYTES = 64 * 2**20  # a larger member is cut into pieces of about this size
MEMORY_LIMIT = "512MB"  # DuckDB's share; beyond it, it spills to DIR/.tmp
NEEDS_A_VIDEO = (
    "the file does not say which video it holds: name it after the video "
    "(sm9.jsonl, 'Title [sm9].comments.json') or pass --video"
)


@dataclass
class UnitResult:
    """What became of one unit: an archive, a file, or a directory's loose files."""

    unit: str
    source: str
    files: int = 0  # files (archive members) imported
    read: int = 0  # comments read, duplicates included
    added: int = 0  # comments written
    skipped: bool = False  # done by an earlier run (the manifest says so)
    failed: list[ImportResult] = field(default_factory=list)
    formats: set[str] = field(default_factory=set)


Progress = Callable[[str, int, int], None]  # (unit source, bytes done, bytes in all)


@dataclass(frozen=True)
class _Unit:
    name: str
    source: str  # what the user named: the archive, the file, the directory
    signature: dict  # what the manifest compares: the unit's size and modification time
    sources: Callable[[], Iterator[Source]]
    size: int


def convert_files(
    paths: Sequence[Path],
    directory: Path,
    *,
    fmt: str = "auto",
    by: str | None = None,
    video_id: str | None = None,
    progress: Progress | None = None,
    memory_limit: str = MEMORY_LIMIT,
    batch_bytes: int = BATCH_BYTES,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[UnitResult]:
    """Import every file behind ``paths`` into the dataset at ``directory``, one result per
    unit (units already done are skipped: their result says so). ``by``: how the dataset is
    partitioned (`dataset.choose_by`: None is the directory's own, or by month)."""
    check_format(fmt)
    by = dataset.choose_by(directory, by, dataset.DEFAULT_BY["import"])
    directory.mkdir(parents=True, exist_ok=True)
    scratch = directory / ".tmp"
    scratch.mkdir(exist_ok=True)
    connection = dataset.connect(memory_limit=memory_limit, temp=scratch)
    try:
        for path in paths:
            try:
                units = list(_units(path))
            except BadInput as exc:
                yield UnitResult(str(path), str(path), failed=[ImportResult(str(path), error=exc)])
                continue
            for unit in units:
                manifest = dataset.read_manifest(directory).get("units", {})
                done = manifest.get(unit.name)
                stale = _earlier_names(manifest, unit)
                if done is not None and done.get("signature") == unit.signature:
                    for name in stale:
                        dataset.forget_unit(directory, name)
                    yield UnitResult(
                        unit.name,
                        unit.source,
                        skipped=True,
                        read=done["read"],
                        added=done["comments"],
                        files=done["files"],
                    )
                    continue
                job = _Conversion(
                    connection,
                    directory,
                    by,
                    unit,
                    fmt,
                    video_id,
                    progress,
                    scratch,
                    batch_bytes,
                    chunk_bytes,
                )
                result = job.run()
                dataset.record_unit(
                    directory,
                    by,
                    unit.name,
                    {
                        "source": unit.source,
                        "path": str(Path(unit.source).resolve()),  # where, wherever run from
                        "signature": unit.signature,
                        "files": result.files,
                        "read": result.read,
                        "comments": result.added,
                        "failed": [r.source for r in result.failed],
                    },
                )
                for name in stale:  # only now: until the new unit is whole, the old one stays
                    dataset.forget_unit(directory, name)
                yield result
    finally:
        connection.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _units(path: Path) -> Iterator[_Unit]:
    """The units behind one PATH: each archive; a file; a directory's loose files (one unit)."""
    if path.is_dir():
        children = sorted(p for p in path.rglob("*") if p.is_file())
        loose = [p for p in children if p.suffix.lower() in FILE_SUFFIXES]
        if loose:
            size = sum(p.stat().st_size for p in loose)
            yield _Unit(
                _unit_name("dir", path),
                str(path),
                {"files": len(loose), "bytes": size, "state": _state(loose)},
                lambda loose=loose: (s for p in loose for s in iter_sources(p)),
                size,
            )
        for child in children:
            if child.suffix.lower() in ARCHIVE_SUFFIXES:
                yield from _units(child)
        return
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    size = path.stat().st_size
    kind = "zip" if path.suffix.lower() in ARCHIVE_SUFFIXES else "file"
    yield _Unit(
        _unit_name(kind, path),
        str(path),
        {"bytes": size, "mtime_ns": path.stat().st_mtime_ns},
        lambda: iter_sources(path),
        size,
    )


def _unit_name(kind: str, path: Path) -> str:
    """A unit's name: its file name (readable in the dataset's file names) and a hash of where
    it is, so two archives both called 0001.zip in two directories are two units, and the
    same file imported again is the same one."""
    where = hashlib.sha1(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()
    return dataset.unit_name(kind, path.name, where[:10])


def _earlier_names(units: dict, unit: _Unit) -> list[str]:
    """Units of the manifest ``units`` that are ``unit`` under another name, to be replaced by
    it rather than kept beside it: recorded from the same place under an earlier naming, or
    from a file of the same name and size that is no longer where it was (moved here). Where
    a unit was is its recorded absolute path (a relative ``source`` of an older manifest says
    nothing about another working directory: such a unit is kept)."""
    here = Path(unit.source).resolve()
    earlier = []
    for name, entry in units.items():
        recorded = entry.get("path") or entry.get("source")
        if name == unit.name or not isinstance(recorded, str) or not Path(recorded).is_absolute():
            continue
        there = Path(recorded)
        moved = (
            not there.exists()
            and there.name == here.name
            and (entry.get("signature") or {}).get("bytes") == unit.signature.get("bytes")
        )
        if there == here or moved:
            earlier.append(name)
    return earlier


def _state(paths: list[Path]) -> str:
    """One value that changes when any of ``paths`` is replaced, grown or touched."""
    digest = hashlib.sha1()
    for path in paths:
        status = path.stat()
        line = f"{path}\0{status.st_size}\0{status.st_mtime_ns}\n"
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


@dataclass
class _Conversion:
    connection: object
    directory: Path
    by: str
    unit: _Unit
    fmt: str
    video_option: str | None
    progress: Progress | None
    scratch: Path
    batch_bytes: int
    chunk_bytes: int
    result: UnitResult = field(init=False)
    part: int = 0
    pending: list[tuple[str, str, str, int]] = field(default_factory=list)  # NII pieces
    pending_bytes: int = 0
    done_bytes: int = 0
    batch_dir: Path | None = None

    def __post_init__(self) -> None:
        self.result = UnitResult(self.unit.name, self.unit.source)

    def run(self) -> UnitResult:
        dataset.remove_unit(self.directory, self.unit.name)
        try:
            for source in self.unit.sources():
                self._source(source)
            self._flush_nii()
        except BadInput as exc:  # the archive itself cannot be read
            self.result.failed.append(ImportResult(self.unit.source, error=exc))
        finally:
            self._drop_batch_dir()
        self._report(self.unit.size)
        return self.result

    def _report(self, done: int) -> None:
        if self.progress is not None:
            self.progress(self.unit.source, min(done, self.unit.size), self.unit.size)

    def _source(self, source: Source) -> None:
        try:
            with source.open() as stream:
                head = stream.read(HEAD_BYTES)
                fmt = (
                    self.fmt if self.fmt != "auto" else formats.sniff_format(head, source.file_name)
                )
                if fmt == "nii":
                    self._extract_nii(source, head, stream)
                    return
                if fmt in RANDOM_ACCESS:
                    stream.seek(0)
                else:
                    stream = prefixed(head, stream)
                self._python(source, fmt, stream)
        except NicoError as exc:
            self._fail(source.name, exc)
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError) as exc:
            self._fail(source.name, BadInput(str(exc), where=f"cannot read {source.name}"))

    def _fail(self, name: str, exc: NicoError) -> None:
        error = exc if exc.where else exc.but(where=f"cannot import {name}", hint=NOTHING_STORED)
        self.result.failed.append(ImportResult(name, error=error))

    # --- NII: through DuckDB, a batch of members at a time -----------------------------------

    def _extract_nii(self, source: Source, head: bytes, stream) -> None:
        video = self.video_option or video_id_from_name(source.file_name)
        if video is None:
            raise MalformedFile(NEEDS_A_VIDEO)
        self.result.formats.add("nii")
        if source.path is not None and source.path.stat().st_size <= self.chunk_bytes:
            # A file of its own, small enough to be read whole: DuckDB reads it where it is.
            self._queue(str(source.path), source.name, video, 0, source.path.stat().st_size)
        else:
            self._copy_out(source, video, head, stream)
        # A member's pieces go to DuckDB together: its numbering runs over the whole file.
        if self.pending_bytes >= self.batch_bytes:
            self._flush_nii()

    def _copy_out(self, source: Source, video: str, head: bytes, stream) -> None:
        if self.batch_dir is None:
            self.batch_dir = Path(tempfile.mkdtemp(prefix="nii-", dir=self.scratch))
        lines_before, carry = 0, head
        while True:
            block = carry + stream.read(max(self.chunk_bytes - len(carry), 1))
            more = stream.read(1)
            if more:  # cut at the last line end (a piece never splits a line)
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    cut = len(block)  # one line longer than a piece: the reader refuses it
                block, carry = block[:cut], block[cut:] + more
            else:
                carry = b""
            path = self.batch_dir / f"{len(self.pending)}.jsonl"
            path.write_bytes(block)
            self._queue(str(path), source.name, video, lines_before, len(block))
            lines_before += block.count(b"\n")
            if not carry:
                break

    def _queue(self, path: str, member: str, video: str, line_offset: int, size: int) -> None:
        self.pending.append((path, member, video, line_offset))
        self.pending_bytes += size

    def _flush_nii(self) -> None:
        if not self.pending:
            return
        import pyarrow as pa

        run, connection = dataset.run, self.connection
        paths, members, videos, offsets = (
            list(column) for column in zip(*self.pending, strict=True)
        )
        files = {"path": paths, "member": members, "video_id": videos, "line_offset": offsets}
        connection.register("nii_files", pa.table(files))
        try:
            counts = self._parse_batch(paths)
            bad = {member: (problem, line) for member, _, problem, line in counts if problem}
            if bad and not self._exact:  # say where, to the line: read those files exactly
                exact = [path for path, member, _, _ in self.pending if member in bad]
                exact_counts = self._parse_batch(exact, exact=True)
                bad.update({m: (problem, n) for m, _, problem, n in exact_counts if problem})
                self._parse_batch(paths)  # the batch again, for the copy
            columns = ", ".join(
                "to_timestamp(posted_at) AS posted_at" if c == "posted_at" else f'"{c}"'
                for c in dataset.COLUMN_TYPES
            )
            run(connection, "CREATE OR REPLACE TEMP TABLE nii_bad (member VARCHAR)")
            if bad:
                connection.executemany("INSERT INTO nii_bad VALUES (?)", [[m] for m in bad])
            rows = nii_rows_sql("nii_lines", "nii_numbers", self._files)
            written = dataset.write_unit(
                connection,
                f"SELECT {columns} FROM ({rows})"
                " WHERE NOT duplicate AND member NOT IN (SELECT member FROM nii_bad)",
                self.directory,
                by=self.by,
                unit=self.unit.name,
                part=self.part,
            )
        finally:
            connection.unregister("nii_files")
            connection.unregister("nii_text_files")
            run(connection, "DROP TABLE IF EXISTS nii_numbers")
            run(connection, "DROP TABLE IF EXISTS nii_lines")
        self.part += 1
        for member in dict.fromkeys(members):
            if member in bad:
                problem, line = bad[member]
                self._fail(member, MalformedFile(f"line {line} {NII_PROBLEMS[problem]}"))
        self.result.files += len({m for m in dict.fromkeys(members) if m not in bad})
        self.result.read += sum(read for m, read, _, _ in counts if m not in bad)
        self.result.added += written["rows"]
        self.done_bytes += self.pending_bytes
        self._report(self.done_bytes)
        self.pending, self.pending_bytes = [], 0
        self._drop_batch_dir()

    _exact: bool = False  # whether the last `_parse_batch` cut the files into lines

    @property
    def _files(self) -> str:
        """The table of files the last `_parse_batch` read (a file cut short by
        `_text_objects` is read from a copy)."""
        return "nii_text_files" if self._exact else "nii_files"

    def _parse_batch(self, paths: list[str], *, exact: bool = False) -> list[tuple]:
        """Parse ``paths`` (of ``nii_files``) into the tables ``nii_lines`` and
        ``nii_numbers``: through DuckDB's JSON reader (`nii_raw_objects_sql`), or, where it
        refuses a file (a line that is not a JSON object, or is too long) or with ``exact``,
        cut into numbered lines. Each line is read on its own into ``nii_lines``
        (`nii_lines_sql`), then numbered (`nii_numbers_sql`); `nii_rows_sql` joins them
        (the table of files: ``_files``). Per member:
        (member, lines, its first problem, that problem's line)."""
        import duckdb

        run, connection = dataset.run, self.connection
        self._exact = True
        undecodable: dict[str, int] = {}
        if not exact:
            try:
                lines = nii_lines_sql(nii_raw_objects_sql(paths))
                run(connection, f"CREATE OR REPLACE TEMP TABLE nii_lines AS {lines}")
                self._exact = False
            except duckdb.Error:
                pass
        if self._exact:
            objects, undecodable = self._text_objects(paths)
            run(connection, f"CREATE OR REPLACE TEMP TABLE nii_lines AS {nii_lines_sql(objects)}")
        numbers = nii_numbers_sql("nii_lines", self._files)
        run(connection, f"CREATE OR REPLACE TEMP TABLE nii_numbers AS {numbers}")
        counts = run(
            connection,
            "SELECT member, count(*), arg_min(problem, line) FILTER (problem IS NOT NULL), "
            "min(line) FILTER (problem IS NOT NULL) FROM nii_numbers GROUP BY member",
        )
        return _with_undecodable(counts, undecodable)

    def _text_objects(self, paths: list[str]) -> tuple[str, dict[str, int]]:
        """`nii_text_objects_sql` of ``paths``, each cut before its first line that is not
        UTF-8 (DuckDB's text reader refuses a whole file for one): the lines before it are
        judged as `read_nii` judges them, that line is the member's problem unless one
        comes first. Returns the query and {member: its first line that is not UTF-8}."""
        import pyarrow as pa

        wanted, undecodable, rows = set(paths), {}, []
        for path, member, video, offset in self.pending:
            if path not in wanted:
                continue
            data = Path(path).read_bytes()
            if (found := first_undecodable_line(data)) is not None:
                line, start = found
                undecodable[member] = min(offset + line, undecodable.get(member, offset + line))
                path = str(self._scratch_file(data[:start]))
            rows.append((path, member, video, offset))
        names = ("path", "member", "video_id", "line_offset")
        table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})
        self.connection.register("nii_text_files", table)
        return nii_text_objects_sql("nii_text_files", [row[0] for row in rows]), undecodable

    def _scratch_file(self, data: bytes) -> Path:
        if self.batch_dir is None:
            self.batch_dir = Path(tempfile.mkdtemp(prefix="nii-", dir=self.scratch))
        path = self.batch_dir / f"{uuid.uuid4().hex}.jsonl"
        path.write_bytes(data)
        return path

    def _drop_batch_dir(self) -> None:
        if self.batch_dir is not None:
            shutil.rmtree(self.batch_dir, ignore_errors=True)
            self.batch_dir = None

    # --- other formats: their reader, then DuckDB from Arrow --------------------------------

    def _python(self, source: Source, fmt: str, stream) -> None:
        self.result.formats.add(fmt)
        items = formats.read_items(fmt, stream, self._needed_video(source, fmt))
        counter = {"read": 0}
        comments = _checked(items, counter)
        first = next(comments, None)
        hint = counter.get("hint")
        video = (
            self.video_option
            or hint
            or video_id_from_name(source.file_name)
            or (first.thread_id if first is not None else None)
        )
        if first is None:
            self.result.files += 1
            return
        batches = dataset.arrow_batches(video, _chain(first, comments))
        try:
            written = dataset.write_comments(
                self.connection,
                batches,
                self.directory,
                by=self.by,
                unit=self.unit.name,
                part=self.part,
            )
        except Exception:
            if "error" in counter:  # the reader's, raised while DuckDB was reading the batches
                raise counter["error"] from None
            raise
        self.part += 1
        self.result.files += 1
        self.result.read += counter["read"]
        self.result.added += written["rows"]

    def _needed_video(self, source: Source, fmt: str) -> str | None:
        if fmt not in formats.NEEDS_VIDEO:
            return None
        video = self.video_option or video_id_from_name(source.file_name)
        if video is None:
            raise MalformedFile(NEEDS_A_VIDEO)
        return video


def _with_undecodable(counts: list[tuple], undecodable: dict[str, int]) -> list[tuple]:
    """Per-member counts (member, lines, first problem, its line) with each member's first
    line that is not UTF-8 (problem 1) where it comes before any other problem."""
    merged = {row[0]: row for row in counts}
    for member, line in undecodable.items():
        _, read, problem, at = merged.get(member, (member, 0, None, None))
        if problem is None or at > line:
            merged[member] = (member, read, 1, line)
    return list(merged.values())


def _chain(first: Comment, rest: Iterable[Comment]) -> Iterator[Comment]:
    yield first
    yield from rest


def _checked(items: Iterable, counter: dict, batch: int = 10_000) -> Iterator[Comment]:
    """The comments among ``items``, each (thread, fork, no) once (the first), checked against
    the database's limits a batch at a time, as the importer checks them; ``counter`` gets
    ``read`` (duplicates included) and the first ``hint`` (`VideoHint`)."""
    try:
        yield from _unique(items, counter, batch)
    except NicoError as exc:
        counter["error"] = exc
        raise


def _unique(items: Iterable, counter: dict, batch: int) -> Iterator[Comment]:
    seen: set[tuple[str, str, int]] = set()
    pending: list[Comment] = []
    for item in items:
        if type(item) is Comment:
            counter["read"] += 1
            key = (item.thread_id, item.fork, item.no)
            if key in seen:
                continue
            seen.add(key)
            pending.append(item)
            if len(pending) >= batch:
                if (problem := comments_problem(pending)) is not None:
                    raise MalformedFile(problem)
                yield from pending
                pending = []
        elif isinstance(item, VideoHint) and "hint" not in counter:
            counter["hint"] = item.video_id
    if (problem := comments_problem(pending)) is not None:
        raise MalformedFile(problem)
    yield from pending


__all__ = ["UnitResult", "convert_files"]
