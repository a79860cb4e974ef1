"""The text formats: legacy XML, nvcomment v1 JSON, JSON Lines and CSV.

JSON Lines and CSV hold every column, so they are also read back here (`read_jsonl`,
`read_csv`; `nico import` recognises them), through one mapping, `comment_from_row`, that the
Parquet reader shares: a file nico wrote imports as exactly the rows it was written from."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any

from nicocomments.chats import unix_seconds
from nicocomments.importers import Item, MalformedFile, VideoHint, json_lines
from nicocomments.records import FORKS, NUMBER_BY_FORK, Comment
from nicocomments.xmlsafe import xml_attr, xml_text

XML_HEAD = b'<?xml version="1.0" encoding="UTF-8"?><packet>'
XML_TAIL = b"</packet>\n"
COLUMNS = ("video_id", *Comment._fields)
REQUIRED_COLUMNS = ("thread_id", "fork", "no", "vpos_ms", "posted_at")
_INTEGERS = frozenset({"no", "vpos_ms", "date_usec", "deleted_reason", "score", "nicoru_count"})
_BOOLEANS = frozenset({"is_premium", "is_anonymous", "is_deleted"})
_NEVER_NULL_TEXT = frozenset({"content", "commands"})  # NOT NULL text: '' when empty


def iso(unix: int) -> str:
    """Unix seconds → ``2011-07-17T07:51:43Z``."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- legacy XML ------------------------------------------------------------------------------


def write_xml(
    comments: Iterable[Comment], out: IO[bytes], *, video_id: str, thread_counts: dict
) -> int:
    """The message server's ``<packet>``: one ``<thread>`` per thread, then its ``<chat>``s.

    Written by hand because danmaku2ass detects the format from the literal first bytes
    (`XML_HEAD`: no BOM, nothing between the declaration and ``<packet>``), which XML libraries
    do not promise. ``vpos`` is in 1/100 s (``vpos_ms // 10``); deleted comments are kept, with
    ``deleted`` and no text, as the server lists them. ``<view_counter id>`` names the video.
    Not carried: nvcomment's comment id and source, and the owner's user id (owner chats have
    none). Characters XML 1.0 cannot hold at all are dropped (`xmlsafe.xml_text`)."""
    out.write(XML_HEAD)
    # The video, as the message server named it; importers (nico's too) read its id.
    out.write(f"<view_counter{_attributes({'id': video_id})}/>".encode())
    current = None
    written = 0
    buffer = io.StringIO()
    for c in comments:
        key = (c.thread_id, c.fork)
        if key != current:
            current = key
            attributes = {"resultcode": "0", "thread": c.thread_id}
            if c.fork != "main":
                attributes["fork"] = str(NUMBER_BY_FORK[c.fork])
            if key in thread_counts:
                attributes["last_res"] = str(thread_counts[key])
            buffer.write(f"<thread{_attributes(attributes)}/>")
        buffer.write(_chat(c))
        written += 1
        if buffer.tell() > 1 << 16:
            out.write(buffer.getvalue().encode("utf-8"))
            buffer = io.StringIO()
    out.write(buffer.getvalue().encode("utf-8"))
    out.write(XML_TAIL)
    return written


def _chat(c: Comment) -> str:
    attributes = {"thread": c.thread_id, "no": str(c.no), "vpos": str(c.vpos_ms // 10)}
    attributes["date"] = str(c.posted_at)
    if c.date_usec is not None:
        attributes["date_usec"] = str(c.date_usec)
    if c.commands:
        attributes["mail"] = c.commands
    if c.user_id is not None and c.fork != "owner":
        # Owner chats carry no user_id on the message server, and players (niconicomments)
        # tell the owner's scripts from viewers' text by exactly that.
        attributes["user_id"] = c.user_id
    if c.is_premium:
        attributes["premium"] = "1"
    if c.is_anonymous:
        attributes["anonymity"] = "1"
    if c.is_deleted:
        attributes["deleted"] = str(c.deleted_reason or 1)
    if c.fork != "main":
        attributes["fork"] = str(NUMBER_BY_FORK[c.fork])
    if c.score is not None:
        attributes["score"] = str(c.score)
    if c.nicoru_count is not None:
        attributes["nicoru"] = str(c.nicoru_count)
    if c.is_deleted:
        return f"<chat{_attributes(attributes)}/>"
    text = xml_text(c.content)
    return f"<chat{_attributes(attributes)}>{text}</chat>"


def _attributes(values: dict[str, str]) -> str:
    return "".join(f' {name}="{xml_attr(value)}"' for name, value in values.items())


# --- nvcomment v1 JSON ----------------------------------------------------------------------


def write_json(
    comments: Iterable[Comment], out: IO[bytes], *, video_id: str, thread_counts: dict
) -> int:
    """nvcomment v1's ``threads`` array, the shape niconicomments reads as format ``v1``.

    Only what is known is written: a field the stored comment lacks (the comment id and source
    of a comment from the legacy protocol, a score or nicoru count the server left out, the
    user id of an owner chat) is ``null``, never a made-up value that a re-import would store
    as the server's. (niconicomments' schema wants those fields filled, so it reads comments
    fetched with nvcomment; give it ``--format xml`` for legacy ones.) ``isMyPost`` and
    ``nicoruId`` are about the account that asked, so they are false and null. v1 has no
    anonymity flag (the server shows 184 in ``commands``): where a comment's anonymity is not
    what its commands say (legacy chats with ``anonymity`` but no 184, as in channel threads),
    nico adds ``"isAnonymous"``, which its importer reads. ``commentCount`` is the server's
    count when it is known. Deleted comments are left out, as v1 answers leave them out."""
    out.write(b"[")
    current = None
    written = 0
    for c in comments:
        if c.is_deleted:
            continue
        key = (c.thread_id, c.fork)
        if key != current:
            out.write(b"]}," if current is not None else b"")
            current = key
            head = {"id": c.thread_id, "fork": c.fork, "commentCount": thread_counts.get(key, 0)}
            out.write(_dumps(head)[:-1].encode("utf-8") + b',"comments":[')
        else:
            out.write(b",")
        out.write(_dumps(_v1_comment(c)).encode("utf-8"))
        written += 1
    out.write(b"]}]\n" if current is not None else b"]\n")
    return written


def _v1_comment(c: Comment) -> dict:
    commands = c.commands.split()
    comment = {
        "id": c.comment_id,
        "no": c.no,
        "vposMs": c.vpos_ms,
        "body": c.content,
        "commands": commands,
        "userId": c.user_id,
        "isPremium": c.is_premium,
        "score": c.score,
        "postedAt": datetime.fromtimestamp(c.posted_at, UTC).isoformat(),
        "nicoruCount": c.nicoru_count,
        "nicoruId": None,
        "source": c.source,
        "isMyPost": False,
    }
    if c.is_anonymous != ("184" in commands):
        comment["isAnonymous"] = c.is_anonymous
    return comment


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- JSON Lines and CSV: every column -----------------------------------------------------------


def _row(video_id: str, c: Comment) -> dict:
    row = {"video_id": video_id, **c._asdict()}
    row["posted_at"] = iso(c.posted_at)
    return row


def write_jsonl(
    comments: Iterable[Comment], out: IO[bytes], *, video_id: str, thread_counts: dict
) -> int:
    """One object per line with every column (`COLUMNS`); ``posted_at`` as ISO 8601 UTC."""
    written = 0
    text = io.TextIOWrapper(out, encoding="utf-8", newline="\n", write_through=False)
    try:
        for c in comments:
            text.write(_dumps(_row(video_id, c)))
            text.write("\n")
            written += 1
    finally:
        text.flush()
        text.detach()
    return written


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
            row = _row(video_id, c)
            rows.writerow(
                ("true" if v else "false") if isinstance(v, bool) else v for v in row.values()
            )
            written += 1
    finally:
        text.flush()
        text.detach()
    return written


# --- reading JSON Lines, CSV (and Parquet) back ------------------------------------------------


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
                value = "" if name in _NEVER_NULL_TEXT else False if name in _BOOLEANS else None
            elif name in _INTEGERS:
                value = _integer(value)
            elif name in _BOOLEANS:
                value = _boolean(value)
            elif name == "posted_at":
                value = _unix(value)
            else:
                value = str(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"column {name}: {exc or 'not valid'} ({value!r})") from None
        values.append(value)
    if values[1] not in FORKS:
        raise ValueError(f"column fork: not one of {', '.join(FORKS)} ({values[1]!r})")
    video = row.get("video_id")
    return (str(video) if video not in (None, "") else None), Comment(*values)


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


def read_jsonl(stream: IO[bytes]) -> Iterator[Item]:
    """nico's JSON Lines export: one object per line with the columns of `COLUMNS`."""
    return items_from_rows(_jsonl_rows(stream))


def _jsonl_rows(stream: IO[bytes]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for number, row in json_lines(stream):
        yield f"line {number}", row


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
