"""nico's JSON Lines export: one object per comment with every column (for jq, DuckDB, pandas),
read back exactly by `nico import`."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from nicocomments.formats.columns import items_from_rows, row_of
from nicocomments.formats.common import Item, compact_json, json_lines
from nicocomments.records import Comment


def write_jsonl(
    comments: Iterable[Comment], out: IO[bytes], *, video_id: str, thread_counts: dict
) -> int:
    """One object per line with every column (`formats.columns.COLUMNS`); ``posted_at`` as ISO
    8601 UTC."""
    written = 0
    text = io.TextIOWrapper(out, encoding="utf-8", newline="\n", write_through=False)
    try:
        for c in comments:
            text.write(compact_json(row_of(video_id, c)))
            text.write("\n")
            written += 1
    finally:
        text.flush()
        text.detach()
    return written


def read_jsonl(stream: IO[bytes]) -> Iterator[Item]:
    """nico's JSON Lines export: one object per line with the columns of `COLUMNS`."""
    return items_from_rows(_jsonl_rows(stream))


def _jsonl_rows(stream: IO[bytes]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for number, row in json_lines(stream):
        yield f"line {number}", row
