"""nico's own every-column exports (jsonl, csv, parquet): the columns, and one mapping from a
row back to a `Comment`, so a file nico wrote imports as exactly the rows it was written from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from nicocomments.chats import unix_seconds
from nicocomments.formats.common import Item, MalformedFile, VideoHint
from nicocomments.limits import shown
from nicocomments.records import ALL_FORKS, Comment, is_fork_name

COLUMNS = ("video_id", *Comment._fields)
REQUIRED_COLUMNS = ("thread_id", "fork", "no", "vpos_ms", "posted_at")
#: The columns every export has (how `formats.sniff_format` knows a jsonl or csv file).
KEY_COLUMNS = frozenset({"thread_id", "fork", "no", "posted_at"})
_INTEGERS = frozenset({"no", "vpos_ms", "date_usec", "deleted_reason", "score", "nicoru_count"})
_BOOLEANS = frozenset({"is_premium", "is_anonymous", "is_deleted", "is_overflowed"})
_NULLABLE_BOOLEANS = frozenset({"is_overflowed"})  # live only: absent (None) for videos
_NEVER_NULL_TEXT = frozenset({"content", "commands"})  # NOT NULL text: '' when empty


def iso(unix: int) -> str:
    """Unix seconds → ``2011-07-17T07:51:43Z``.

    >>> iso(1310888503)
    '2011-07-17T07:41:43Z'
    """
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def row_of(video_id: str, c: Comment) -> dict:
    """Every column of one comment, ``posted_at`` as ISO 8601 UTC (`iso`)."""
    row = {"video_id": video_id, **c._asdict()}
    row["posted_at"] = iso(c.posted_at)
    return row


def comment_from_row(row: Mapping[str, Any]) -> tuple[str | None, Comment]:
    """(video id, `Comment`) of one row of nico's own every-column export, whether its values
    are JSON's (jsonl), text (csv: empty = absent, booleans true/false) or typed (parquet).
    Absent values stay absent (None); a missing required column or a value that is not what
    its column holds raises `ValueError` naming the column."""
    values = []
    for name in Comment._fields:
        value = row.get(name)
        if value == "" and name not in _NEVER_NULL_TEXT:
            value = None
        try:
            if value is None:
                if name in REQUIRED_COLUMNS:
                    raise ValueError("missing")
                value = (
                    ""
                    if name in _NEVER_NULL_TEXT
                    else False
                    if name in _BOOLEANS - _NULLABLE_BOOLEANS
                    else None
                )
            elif name in _INTEGERS:
                value = _integer(value)
            elif name in _BOOLEANS:
                value = _boolean(value)
            elif name == "posted_at":
                value = _unix(value)
            else:
                value = str(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"column {name}: {exc or 'not valid'} ({_shown(value)})") from None
        values.append(value)
    if not is_fork_name(values[1]):
        raise ValueError(f"column fork: not one of {', '.join(ALL_FORKS)} ({_shown(values[1])})")
    video = row.get("video_id")
    return (str(video) if video not in (None, "") else None), Comment(*values)


def _shown(value: Any) -> str:
    """A value of a file in a message: text cut as `limits.shown` cuts it (a cell may hold a
    megabyte), other values as Python writes them."""
    return shown(value) if isinstance(value, str) else repr(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError("not an integer")
    return int(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("not true or false")


def _unix(value: Any) -> int:
    if isinstance(value, datetime):  # parquet's timestamp column
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return unix_seconds(value, UTC)  # the ISO 8601 text nico writes ends in Z


def items_from_rows(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> Iterator[Item]:
    """Comments of ``(where, row)`` pairs, after a `VideoHint` of the first row's video. One
    export holds one video: a row of another video is refused (import the files one by one)."""
    video: str | None = None
    for where, row in rows:
        try:
            row_video, comment = comment_from_row(row)
        except ValueError as exc:
            raise MalformedFile(f"{where}: {exc}") from None
        if row_video != video:
            if video is not None:
                raise MalformedFile(
                    f"{where}: a row of video {row_video}, after rows of {video} "
                    "(one file holds one video's comments)"
                )
            video = row_video
            if video is not None:
                yield VideoHint(video)
        yield comment
