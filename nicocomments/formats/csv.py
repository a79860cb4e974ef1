"""nico's CSV export: every column with a header, UTF-8 (for spreadsheets, R, pandas), read
back exactly by `nico import`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from nicocomments.formats.columns import COLUMNS, REQUIRED_COLUMNS, items_from_rows, row_of
from nicocomments.formats.common import Item, MalformedFile
from nicocomments.records import Comment


def write_csv(
    comments: Iterable[Comment], out: IO[bytes], *, video_id: str, thread_counts: dict
) -> int:
    """Every column (`COLUMNS`) with a header; ``posted_at`` as ISO 8601 UTC, booleans as
    true/false, absent values empty. RFC 4180: lines end in CRLF, so a field holding a comma,
    a quote, a line feed *or a bare carriage return* is quoted (with ``\n`` as the line end,
    the csv module leaves a lone ``\r`` unquoted, and readers split the row there)."""
    written = 0
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        rows = csv.writer(text, lineterminator="\r\n")
        rows.writerow(COLUMNS)
        for c in comments:
            row = row_of(video_id, c)
            rows.writerow(
                ("true" if v else "false") if isinstance(v, bool) else v for v in row.values()
            )
            written += 1
    finally:
        text.flush()
        text.detach()
    return written


def read_csv(stream: IO[bytes]) -> Iterator[Item]:
    """nico's CSV export: a header naming the columns of `COLUMNS` (any order; others are
    ignored), then one row per comment."""
    return items_from_rows(_csv_rows(stream))


def _csv_rows(stream: IO[bytes]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        reader = csv.DictReader(text)
        missing = set(REQUIRED_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise MalformedFile(f"the CSV header lacks {', '.join(sorted(missing))}")
        for row in reader:
            if None in row:
                raise MalformedFile(f"line {reader.line_num} has more fields than the header")
            yield f"line {reader.line_num}", row
    except csv.Error as exc:
        raise MalformedFile(f"not readable as CSV ({exc})") from None
    finally:
        text.detach()
