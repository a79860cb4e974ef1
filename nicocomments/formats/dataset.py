"""A comment dataset: Hive-partitioned Parquet files that DuckDB, Polars, pyarrow and Spark read
directly, written with DuckDB.

Layout (``by`` = ``video`` or ``month``)::

    DIR/video=sm9/video-sm9-0.parquet          DIR/month=2007-03/nii-0001-zip-3f2a-0-0.parquet
    DIR/_nico_manifest.json                    (what is done: `read_manifest`)

Every file holds the columns of `formats.columns.COLUMNS` (``video_id`` + the `Comment` fields),
typed as `COLUMN_TYPES` says (``posted_at`` a UTC timestamp, ids text, ``fork`` dictionary
encoded), zstd-compressed; the partition key (``video`` or ``month``, ``YYYY-MM`` of
``posted_at`` in UTC) is in the directory name only.

Files are written per *unit*: a video (``nico export``), an archive or a file (``nico import
--to``). A unit's files carry its name, so writing a unit again first removes what it wrote
before, in every partition: re-running adds or replaces, never duplicates. A unit is written
to a staging directory and moved into place when complete; the manifest records it last, so an
interrupted unit is redone from scratch (its old files replaced) the next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nicocomments.errors import BadInput, DatabaseError
from nicocomments.formats.columns import COLUMNS
from nicocomments.records import Comment

PARTITION_KEYS = ("video", "month")
MANIFEST = "_nico_manifest.json"
FILE_GLOB = "*=*/*.parquet"
#: Each column's DuckDB type (the Parquet types follow: BIGINT int64, TIMESTAMPTZ a UTC
#: timestamp, VARCHAR a string, ``fork`` included: any fork a server names (live, ai, …) is kept,
#: and its few values are written dictionary-encoded).
COLUMN_TYPES = {
    "video_id": "VARCHAR",
    "thread_id": "VARCHAR",
    "fork": "VARCHAR",
    "no": "BIGINT",
    "vpos_ms": "BIGINT",
    "posted_at": "TIMESTAMPTZ",
    "content": "VARCHAR",
    "commands": "VARCHAR",
    "date_usec": "INTEGER",
    "user_id": "VARCHAR",
    "is_premium": "BOOLEAN",
    "is_anonymous": "BOOLEAN",
    "is_deleted": "BOOLEAN",
    "deleted_reason": "SMALLINT",
    "score": "INTEGER",
    "nicoru_count": "INTEGER",
    "comment_id": "VARCHAR",
    "source": "VARCHAR",
    "message_id": "VARCHAR",
    "is_overflowed": "BOOLEAN",
    "name": "VARCHAR",
}
assert tuple(COLUMN_TYPES) == COLUMNS
#: Live comments' own columns: a dataset written before they were kept has none of them (its
#: readers take them as NULL).
LIVE_COLUMNS = ("message_id", "is_overflowed", "name")
_KEY_SQL = {"video": "video_id", "month": "strftime(posted_at AT TIME ZONE 'UTC', '%Y-%m')"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
ROW_GROUP_ROWS = 122_880  # DuckDB's default: row groups small enough to skip by statistics


def connect(
    *, memory_limit: str | None = None, threads: int | None = None, temp: Path | None = None
):
    """A DuckDB connection set up for comments: UTC, bounded memory (spilling to ``temp``
    beyond ``memory_limit``)."""
    import duckdb

    connection = duckdb.connect()
    run(connection, "SET TimeZone = 'UTC'")
    if memory_limit:
        run(connection, f"SET memory_limit = '{memory_limit}'")
    if threads:
        run(connection, f"SET threads = {int(threads)}")
    if temp is not None:
        run(connection, f"SET temp_directory = '{_quoted(str(temp))}'")
    return connection


def run(connection, sql: str) -> list:
    """Run one statement to completion (DuckDB keeps a connection busy until its result is
    read); its rows."""
    return connection.execute(sql).fetchall()


def check_by(by: str) -> str:
    if by not in PARTITION_KEYS:
        raise BadInput(f"unknown partitioning {by!r}: choose {' or '.join(PARTITION_KEYS)}")
    return by


def unit_name(*parts: str) -> str:
    """A file-name-safe unit name: ``video-sm9``; long or odd names get a short hash."""
    raw = "-".join(parts)
    safe = _UNSAFE.sub("-", raw).strip("-")[:60]
    if safe != raw:
        safe += "-" + hashlib.sha1(raw.encode("utf-8")).hexdigest()[:8]
    return safe


def typed_select(source_sql: str) -> str:
    """``source_sql`` (a query with the `COLUMNS`) cast to `COLUMN_TYPES`, in that order."""
    casts = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in COLUMN_TYPES.items())
    return f"SELECT {casts} FROM ({source_sql})"


def write_unit(
    connection, source_sql: str, directory: Path, *, by: str, unit: str, part: int | None = None
) -> dict:
    """Write the rows of ``source_sql`` (the `COLUMNS`, any types DuckDB casts) as unit
    ``unit`` of the dataset at ``directory``, replacing what the unit wrote before; or, with
    ``part``, as one more part of the unit (the caller removes its old files first:
    `remove_unit`). Returns ``{"rows": n, "files": [relative paths]}``."""
    check_by(by)
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".staging-{unit}-{uuid.uuid4().hex[:8]}"
    prefix = unit if part is None else f"{unit}+{part}"
    try:
        run(
            connection,
            f"COPY (SELECT *, {_KEY_SQL[by]} AS {by} FROM ({typed_select(source_sql)})) "
            f"TO '{_quoted(str(staging))}' (FORMAT parquet, COMPRESSION zstd, "
            f"PARTITION_BY ({by}), FILENAME_PATTERN '{prefix}-{{i}}', "
            f"ROW_GROUP_SIZE {ROW_GROUP_ROWS})",
        )
        new = (
            sorted(p.relative_to(staging) for p in staging.glob(FILE_GLOB))
            if staging.exists()
            else []
        )
        rows = _count_rows(connection, [staging / p for p in new])
        if part is None:
            remove_unit(directory, unit)
        for relative in new:
            (directory / relative.parent).mkdir(exist_ok=True)
            os.replace(staging / relative, directory / relative)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"rows": rows, "files": [str(p) for p in new]}


def remove_unit(directory: Path, unit: str) -> int:
    """Delete every file unit ``unit`` wrote (in any partition); how many there were."""
    pattern = re.compile(re.escape(unit) + r"(\+\d+)?-\d+\.parquet")
    removed = 0
    for path in directory.glob(FILE_GLOB):
        if pattern.fullmatch(path.name):
            path.unlink()
            removed += 1
    return removed


def _count_rows(connection, paths: list[Path]) -> int:
    if not paths:
        return 0
    listed = ", ".join(f"'{_quoted(str(p))}'" for p in paths)
    sql = f"SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata([{listed}])"
    return run(connection, sql)[0][0]


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def files_sql(directory: Path) -> str:
    """``read_parquet`` of the dataset at ``directory`` (the key of its partitions as text)."""
    by = dataset_partitioning(directory)
    pattern = _quoted(str(directory / FILE_GLOB))
    return (
        f"read_parquet('{pattern}', hive_partitioning = true, "
        f"hive_types = {{'{by}': VARCHAR}}, union_by_name = true)"
    )


@contextmanager
def reading(directory: Path) -> Iterator[None]:
    """Turn DuckDB's failure to read the dataset at ``directory`` (a damaged or truncated
    Parquet file, one that is not Parquet, one gone meanwhile) into a `DatabaseError` naming
    the file."""
    import duckdb

    try:
        yield
    except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException):
        raise  # a query of ours that is wrong: a bug
    except duckdb.Error as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseError(
            f"{damaged_file(directory, detail)} is damaged or not a Parquet file ({detail})",
            where=f"cannot read the dataset {directory}",
            hint="re-create it (nico import --to, nico export --partitioned) or remove it",
        ) from None


def damaged_file(directory: Path, detail: str) -> Path | str:
    """The file of the dataset at ``directory`` that DuckDB could not read: the one its
    message names, else the first whose footer it cannot read, else the first it cannot
    read whole (slow on a large dataset, but only once something is broken)."""
    files = sorted(directory.glob(FILE_GLOB))
    for path in files:
        if str(path) in detail or str(path.relative_to(directory)) in detail:
            return path
    import duckdb

    probes = (
        "SELECT count(*) FROM parquet_metadata('{}')",
        "SELECT min(hash(t)) FROM read_parquet('{}') AS t",
    )
    connection = duckdb.connect()
    try:
        for probe in probes:
            for path in files:
                try:
                    run(connection, probe.format(_quoted(str(path))))
                except duckdb.Error:
                    return path
    finally:
        connection.close()
    return "a file"


def dataset_partitioning(directory: Path) -> str:
    """``video`` or ``month``: how the dataset at ``directory`` is partitioned (from its
    manifest, else its directories); a BadInput if it is not a dataset."""
    manifest = read_manifest(directory)
    if manifest.get("by") in PARTITION_KEYS:
        return manifest["by"]
    for path in directory.glob(FILE_GLOB):
        key = path.parent.name.split("=", 1)[0]
        if key in PARTITION_KEYS:
            return key
    raise BadInput(f"{directory}: not a comment dataset (no {FILE_GLOB} files)")


# --- the manifest -------------------------------------------------------------------------------


def read_manifest(directory: Path) -> dict:
    """What the dataset at ``directory`` says it holds: ``{"by": ..., "units": {unit: {...}}}``."""
    try:
        return json.loads((directory / MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise BadInput(f"{directory / MANIFEST}: unreadable ({exc})") from None


def record_unit(directory: Path, by: str, unit: str, entry: dict[str, Any]) -> None:
    """Note unit ``unit`` as done (written beside and renamed over: never half a manifest)."""
    manifest = check_partitioning(directory, by)
    manifest["by"] = by
    manifest.setdefault("units", {})[unit] = {
        **entry,
        "done_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    partial = directory / (MANIFEST + ".part")
    partial.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    os.replace(partial, directory / MANIFEST)


def forget_unit(directory: Path, unit: str) -> None:
    """Delete unit ``unit``'s files, then its line in the manifest (a crash between the two
    leaves a line without files, which the next `forget_unit` removes)."""
    remove_unit(directory, unit)
    manifest = read_manifest(directory)
    if manifest.get("units", {}).pop(unit, None) is None:
        return
    partial = directory / (MANIFEST + ".part")
    partial.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    os.replace(partial, directory / MANIFEST)


#: The partitioning of a new directory when none is asked for: ``nico export`` writes the
#: database's videos (a directory each); ``nico import --to`` mostly whole releases (the NII's
#: 16.7 million videos would be as many directories), so by month.
DEFAULT_BY = {"export": "video", "import": "month"}


def choose_by(directory: Path, by: str | None, default: str) -> str:
    """The partitioning to write ``directory`` with: ``by`` when asked for (refused where the
    directory is already partitioned otherwise), else the directory's own (its manifest's),
    else ``default``."""
    if directory.exists() and not directory.is_dir():
        raise BadInput(f"{directory} is a file: a dataset is a directory")
    if by is None:
        by = read_manifest(directory).get("by", default)
    check_by(by)
    check_partitioning(directory, by)
    return by


def check_partitioning(directory: Path, by: str) -> dict:
    """Refuse to mix partitionings in one directory; the manifest."""
    manifest = read_manifest(directory)
    if manifest.get("by", by) != by:
        raise BadInput(
            f"{directory} is partitioned by {manifest['by']}, not {by}: choose --by "
            f"{manifest['by']} or another directory"
        )
    return manifest


# --- comments from Python -----------------------------------------------------------------------


def arrow_batches(video_id: str, comments: Iterable[Comment], size: int = 50_000) -> Iterator:
    """pyarrow record batches of `COLUMNS` (``posted_at`` still Unix seconds: `write_unit`
    casts it) of one video's comments, ``size`` rows at a time."""
    import pyarrow as pa

    names = list(COLUMNS)
    batch: list[Comment] = []

    def make(rows: list[Comment]):
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(Comment._fields)
        arrays = [pa.array([video_id] * len(rows), pa.string())]
        for name, values in zip(Comment._fields, columns, strict=True):
            if name == "posted_at":
                arrays.append(pa.array(values, pa.int64()).cast(pa.timestamp("s", tz="UTC")))
            else:
                arrays.append(pa.array(values, _ARROW_TYPES[name](pa)))
        return pa.RecordBatch.from_arrays(arrays, names=names)

    for comment in comments:
        batch.append(comment)
        if len(batch) >= size:
            yield make(batch)
            batch = []
    if batch:
        yield make(batch)


_ARROW_TYPES = {
    "thread_id": lambda pa: pa.string(),
    "fork": lambda pa: pa.string(),
    "no": lambda pa: pa.int64(),
    "vpos_ms": lambda pa: pa.int64(),
    "content": lambda pa: pa.string(),
    "commands": lambda pa: pa.string(),
    "date_usec": lambda pa: pa.int64(),
    "user_id": lambda pa: pa.string(),
    "is_premium": lambda pa: pa.bool_(),
    "is_anonymous": lambda pa: pa.bool_(),
    "is_deleted": lambda pa: pa.bool_(),
    "deleted_reason": lambda pa: pa.int64(),
    "score": lambda pa: pa.int64(),
    "nicoru_count": lambda pa: pa.int64(),
    "comment_id": lambda pa: pa.string(),
    "source": lambda pa: pa.string(),
    "message_id": lambda pa: pa.string(),
    "is_overflowed": lambda pa: pa.bool_(),
    "name": lambda pa: pa.string(),
}


def write_comments(
    connection, batches: Iterable, directory: Path, *, by: str, unit: str, part: int | None = None
) -> dict:
    """`write_unit` of record batches made by `arrow_batches` (streamed: DuckDB reads them as
    they are made)."""
    import pyarrow as pa

    schema = next(iter(arrow_batches("", [_EMPTY]))).schema
    reader = pa.RecordBatchReader.from_batches(schema, batches)
    name = f"nico_batches_{uuid.uuid4().hex[:8]}"
    connection.register(name, reader)
    try:
        sql = f"SELECT * FROM {name}"
        return write_unit(connection, sql, directory, by=by, unit=unit, part=part)
    finally:
        connection.unregister(name)


_EMPTY = Comment("", "main", 0, 0, 0, "")
