"""Parquet: every column, typed, written in row groups as the comments stream in, and read
back a row group at a time (pyarrow)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import IO, Any

from nicocomments.errors import missing_extra
from nicocomments.formats.columns import items_from_rows
from nicocomments.formats.common import Item, MalformedFile
from nicocomments.records import Comment

ROW_GROUP = 50_000
PARQUET_MAGIC = b"PAR1"  # how a Parquet file begins (and ends)


def schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("video_id", pa.string()),
            ("thread_id", pa.string()),
            ("fork", pa.string()),
            ("no", pa.int64()),
            ("vpos_ms", pa.int64()),
            ("posted_at", pa.timestamp("s", tz="UTC")),
            ("content", pa.string()),
            ("commands", pa.string()),
            ("date_usec", pa.int32()),
            ("user_id", pa.string()),
            ("is_premium", pa.bool_()),
            ("is_anonymous", pa.bool_()),
            ("is_deleted", pa.bool_()),
            ("deleted_reason", pa.int16()),
            ("score", pa.int32()),
            ("nicoru_count", pa.int32()),
            ("comment_id", pa.string()),
            ("source", pa.string()),
            ("message_id", pa.string()),
            ("is_overflowed", pa.bool_()),
            ("name", pa.string()),
        ]
    )


def write_parquet(
    comments: Iterable[Comment], out: IO[bytes], *, video_id: str, thread_counts: dict
) -> int:
    """The columns of `schema` (``posted_at`` a UTC timestamp), zstd-compressed, in row groups
    of `ROW_GROUP` comments. ``pandas.read_parquet`` and DuckDB read it as it is."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise missing_extra("writing Parquet", "pyarrow", "parquet") from None
    table_schema = schema()
    names = [field.name for field in table_schema]
    written = 0
    iterator = iter(comments)
    with pq.ParquetWriter(out, table_schema, compression="zstd") as parquet:
        while True:
            chunk = list(islice(iterator, ROW_GROUP))
            if not chunk and written:
                break
            columns = {name: [] for name in names}
            for c in chunk:
                columns["video_id"].append(video_id)
                for name, value in zip(Comment._fields, c, strict=True):
                    columns[name].append(value)
            parquet.write_table(pa.table(columns, schema=table_schema))
            written += len(chunk)
            if not chunk:
                break
    return written


def read_parquet(stream: IO[bytes]) -> Iterator[Item]:
    """nico's Parquet export (the columns of `schema`; a seekable file, as Parquet keeps its
    index at the end), one row group at a time."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise missing_extra("reading Parquet", "pyarrow", "parquet") from None
    try:
        parquet = pq.ParquetFile(stream)
    except (pa.ArrowException, OSError) as exc:
        raise MalformedFile(f"not a readable Parquet file ({exc})") from None
    return items_from_rows(_parquet_rows(pa, parquet))


def _parquet_rows(pa, parquet) -> Iterator[tuple[str, Mapping[str, Any]]]:
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=ROW_GROUP):
            for row in batch.to_pylist():
                number += 1
                yield f"row {number}", row
    except pa.ArrowException as exc:
        raise MalformedFile(f"not a readable Parquet file ({exc})") from None
