"""The text formats: legacy XML, nvcomment v1 JSON, JSON Lines and CSV (stdlib only)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO

from nicocomments.records import NUMBER_BY_FORK, Comment
from nicocomments.xmlsafe import xml_attr, xml_text

XML_HEAD = b'<?xml version="1.0" encoding="UTF-8"?><packet>'
XML_TAIL = b"</packet>\n"
COLUMNS = ("video_id", *Comment._fields)


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
    ``deleted`` and no text, as the server lists them. Not carried: nvcomment's comment id and
    source."""
    out.write(XML_HEAD)
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
    if c.user_id is not None:
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
    """nvcomment v1's ``threads`` array, the shape niconicomments reads as format ``v1`` (its
    schema wants every comment field present: a missing user id becomes "", a missing score or
    nicoru count 0, a missing comment id the comment's number). ``commentCount`` is the server's
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
    return {
        "id": c.comment_id if c.comment_id is not None else str(c.no),
        "no": c.no,
        "vposMs": c.vpos_ms,
        "body": c.content,
        "commands": c.commands.split(),
        "userId": c.user_id or "",
        "isPremium": c.is_premium,
        "score": c.score or 0,
        "postedAt": datetime.fromtimestamp(c.posted_at, UTC).isoformat(),
        "nicoruCount": c.nicoru_count or 0,
        "nicoruId": None,
        "source": c.source or "trunk",
        "isMyPost": False,
    }


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
    true/false, absent values empty."""
    written = 0
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        rows = csv.writer(text, lineterminator="\n")
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
