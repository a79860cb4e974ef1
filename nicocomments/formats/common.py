"""What the format modules share: the items readers yield, their error, and the streaming helpers.

A reader yields, in file order, `Comment` records and what the file says about its threads
(`ThreadStatus`) or its video (`VideoHint`). It never holds a whole file: JSON arrays are read
item by item (ijson, within the limits of `limits.BoundedJson`), JSON Lines line by line.

Legacy chats (XML attributes, api.json objects) and v1 comment objects are mapped by
`nicocomments.chats`, the same code the network parsers use, so a comment means the same thing
whether it came from a server or from a file.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import ijson
import orjson

from nicocomments.chats import chat_comment, scalar_text, thread_status, v1_comment
from nicocomments.errors import BadInput
from nicocomments.ids import is_program_id
from nicocomments.limits import MAX_LINE_BYTES, BoundedJson
from nicocomments.records import JST, LIVE_FORK, Comment, ThreadStatus

HEAD_BYTES = 65536  # how much of a file format sniffing looks at


class MalformedFile(BadInput):
    """A file that is not what its format promises (the import job adds the file's name)."""


@dataclass(frozen=True)
class VideoHint:
    """The file names its video (legacy ``<view_counter id="sm9">``, nico's ``video_id``)."""

    video_id: str


Item = Comment | ThreadStatus | VideoHint


class SyntheticNumbers:
    """``no = -n`` for the n-th comment without a number in one (thread, fork) of one file."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}

    def next(self, thread_id: str, fork: str) -> int:
        key = (thread_id, fork)
        self._counts[key] = self._counts.get(key, 0) + 1
        return -self._counts[key]


# --- legacy chats and v1 comments -----------------------------------------------------------------


def chat_to_comment(fields: Mapping[str, Any], content: str, numbers: SyntheticNumbers) -> Comment:
    """A legacy ``<chat>`` (its attributes) or api.json ``chat`` object → `Comment`, by the
    mapping the message-server parser uses (`nicocomments.chats`). A missing or non-positive
    ``no`` (live broadcasts) is numbered by `SyntheticNumbers`. A chat of a program's thread
    (``lv…``, as nico writes live comments: the classic live logs name no fork) is ``live``."""
    try:
        comment = chat_comment(fields, content, _default_fork(fields))
    except ValueError as exc:
        raise MalformedFile(str(exc)) from None
    if not comment.thread_id:
        raise MalformedFile("a chat has no thread")
    if comment.no is None or comment.no <= 0:
        comment = comment._replace(no=numbers.next(comment.thread_id, comment.fork))
    return comment


def thread_from_fields(fields: Mapping[str, Any]) -> ThreadStatus:
    """A legacy ``<thread>`` element (or api.json ``thread`` object) → `ThreadStatus`."""
    try:
        return thread_status(fields, _default_fork(fields))
    except ValueError as exc:
        raise MalformedFile(str(exc)) from None


def _default_fork(fields: Mapping[str, Any]) -> str:
    """The fork of a chat or thread that names none: ``live`` in a program's thread."""
    thread = fields.get("thread")
    is_program = isinstance(thread, str) and is_program_id(thread) and thread[2:].isdigit()
    return LIVE_FORK if is_program else "main"


def v1_to_comment(raw: Any, thread_id: str, fork: str) -> Comment:
    """One comment of a v1 answer → `Comment`, by the mapping the comment server's parser uses
    (`nicocomments.chats`), except that a ``postedAt`` without a zone is Japan time."""
    try:
        return v1_comment(raw, thread_id, fork, JST)
    except ValueError:
        raise MalformedFile("a v1 comment lacks no or postedAt, or they are not valid") from None


def text_of(value: Any, what: str) -> str:
    """``value`` as text (a string or a number), or `MalformedFile` saying ``what`` is not."""
    try:
        return scalar_text(value)
    except ValueError:
        raise MalformedFile(f"{what} is not text") from None


# --- streams --------------------------------------------------------------------------------------


class _Prefixed(io.RawIOBase):
    """A stream that first gives back bytes already read from it (the sniffed head)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def prefixed(head: bytes, rest: IO[bytes]) -> IO[bytes]:
    """``head`` + the rest of ``rest``, as one buffered binary stream."""
    return io.BufferedReader(_Prefixed(head, rest), buffer_size=HEAD_BYTES)


def json_items(stream: IO[bytes], prefix: str) -> Iterator[Any]:
    """The values at ``prefix`` of a JSON document (``item``: a top-level array's elements)."""
    try:
        yield from ijson.items(bounded_json(stream), prefix, use_float=True)
    except ijson.JSONError as exc:
        raise broken_json(exc) from None


def bounded_json(stream: IO[bytes]) -> IO[bytes]:
    """The stream without its BOM, as ijson reads it: within the depth and length limits."""
    head = stream.read(3)
    return BoundedJson(prefixed(b"" if head == b"\xef\xbb\xbf" else head, stream))


def broken_json(exc: Exception) -> MalformedFile:
    """ijson's error in one line: yajl adds the text around the error on further lines (as a
    bytes repr when it is not UTF-8)."""
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    first = str(detail).strip().split("\n", 1)[0].strip().rstrip(".")
    return MalformedFile(f"broken JSON ({first or type(exc).__name__})")


def json_lines(stream: IO[bytes]) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-blank line of JSON Lines (a BOM first is skipped)."""
    for line_number, line in enumerate(_lines(stream), 1):  # bytes: orjson reads UTF-8 itself
        if line_number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]
        if not line.strip():
            continue
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise MalformedFile(f"line {line_number} is not JSON (or not UTF-8)") from None
        if not isinstance(raw, dict):
            raise MalformedFile(f"line {line_number} is not a JSON object")
        yield line_number, raw


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of a stream, none held whole when it passes `MAX_LINE_BYTES` (a 1 GB line
    in a 1 MB zip archive is refused after the first megabyte)."""
    number = 0
    while line := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise MalformedFile(f"line {number} is longer than {MAX_LINE_BYTES:,} bytes")
        yield line


def compact_json(value: Any) -> str:
    """JSON as nico writes it: UTF-8 text as it is (not ``\\u`` escapes), no spaces."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
