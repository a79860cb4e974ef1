"""nvcomment v1 JSON: the comment server's ``/v1/threads`` answer, read back and written.

`nico export --format json` writes the ``threads`` array niconicomments reads as format ``v1``;
`nico import` reads that, the whole answer (``{"meta", "data": {"threads"}}``) or its ``data``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

import ijson

from nicocomments.chats import int_or_none
from nicocomments.formats.common import (
    Item,
    MalformedFile,
    bounded_json,
    broken_json,
    compact_json,
    text_of,
    v1_to_comment,
)
from nicocomments.records import Comment, ThreadStatus, is_fork_name

#: Keys of a v1 thread object, and of a v1 comment object (how `formats.sniff_format` tells a
#: threads array from yt-dlp's flat array of comments).
V1_THREAD_KEYS = frozenset({"fork", "commentCount", "comments"})
V1_COMMENT_KEYS = frozenset({"vposMs", "body", "postedAt", "commands"})


def read_v1(stream: IO[bytes]) -> Iterator[Item]:
    """A ``/v1/threads`` answer: the whole response (``{"meta", "data": {"threads"}}``), its
    ``data`` object, or the bare ``threads`` array. One thread is held in memory at a time
    (an answer holds at most about a thousand comments per thread)."""
    events = ijson.parse(bounded_json(stream), use_float=True)
    first = _next_event(events)
    if first is None:
        raise MalformedFile("the file is empty")
    if first[1] == "start_array":
        prefixes = {"item"}
    elif first[1] == "start_map":
        prefixes = {"data.threads.item", "threads.item"}
    else:
        raise MalformedFile("not an nvcomment v1 answer")
    threads = 0
    try:
        for thread in _items_at(events, prefixes):
            threads += 1
            yield from _v1_thread(thread)
    except ijson.JSONError as exc:
        raise broken_json(exc) from None
    if threads == 0 and first[1] == "start_map":
        raise MalformedFile("not an nvcomment v1 answer: it has no threads")


def _v1_thread(thread: Any) -> Iterator[Item]:
    if not isinstance(thread, dict) or "id" not in thread or "fork" not in thread:
        raise MalformedFile("a v1 thread lacks its id or fork")
    thread_id = text_of(thread["id"], "a v1 thread's id")
    fork = text_of(thread["fork"], "its fork")
    if not is_fork_name(fork):
        raise MalformedFile(f"a v1 thread has the unknown fork {fork[:20]!r}")
    yield ThreadStatus(thread_id, fork, comment_count=int_or_none(thread.get("commentCount")))
    for raw in thread.get("comments") or []:
        yield v1_to_comment(raw, thread_id, fork)


def _next_event(events):
    try:
        return next(events)
    except StopIteration:
        return None
    except ijson.JSONError as exc:
        raise broken_json(exc) from None


def _items_at(events, prefixes: set[str]) -> Iterator[Any]:
    """Build the values found at any of ``prefixes`` from a stream of ijson events."""
    builder = None
    current = ""
    for prefix, event, value in events:
        if builder is None:
            if prefix in prefixes and event in ("start_map", "start_array"):
                builder = ijson.ObjectBuilder()
                current = prefix
                builder.event(event, value)
            continue
        builder.event(event, value)
        if prefix == current and event in ("end_map", "end_array"):
            yield builder.value
            builder = None


def write_v1(
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
            out.write(compact_json(head)[:-1].encode("utf-8") + b',"comments":[')
        else:
            out.write(b",")
        out.write(compact_json(_v1_comment(c)).encode("utf-8"))
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
