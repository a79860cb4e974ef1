"""Pure parsers of the NDGR message server's answers (live.md §3, §4): bytes in, records out.

* the view stream (`ChunkedEntry`s) → `MessageSegment` / `BackwardSegment` / `ReadyForNext`;
* a backward answer (one `PackedSegment`) → `PackedBatch`: its messages and the next older URI;
* a segment stream or a packed message (`ChunkedMessage`) → `LiveComment` (a chat, overflowed
  or not), `LiveEvent` (gift, notification, nicoad, … with its JSON payload), `LiveState` or
  `LiveSignal`.

Servers add message kinds over time, so unknown fields and unknown oneof members are skipped,
never fatal: an unknown `ChunkedEntry` or `ChunkedMessage` payload is dropped, and an unknown
`NicoliveMessage` member becomes a `LiveEvent` of kind ``unknown`` whose raw bytes are kept, so
a later version can still decode what was archived today.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from nicocomments.errors import BadAnswer
from nicocomments.live import ndgr_pb2 as pb
from nicocomments.live.stream import iter_delimited
from nicocomments.records import LIVE_FORK, Comment

log = logging.getLogger(__name__)

UNKNOWN_EVENT = "unknown"  # the kind of a NicoliveMessage member this version does not know
CHAT_MEMBERS = ("chat", "overflowed_chat")

_MODIFIER = pb.Chat.Modifier
_ENUM_COMMANDS = (  # (field, enum): the command is the value's name, the default (0) is omitted
    ("position", _MODIFIER.Pos),
    ("size", _MODIFIER.Size),
)


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageSegment:
    """A time slice of comments; GET `uri` streams its `ChunkedMessage`s."""

    uri: str
    from_at: int | None  # Unix seconds
    until_at: int | None
    previous: bool = False  # named as the slice before the current one


@dataclass(frozen=True)
class BackwardSegment:
    """The way into the past: GET `uri` answers one `PackedSegment`."""

    uri: str
    until_at: int | None
    snapshot_uri: str | None = None


@dataclass(frozen=True)
class ReadyForNext:
    """Call the view URI again with ``?at={at}`` to continue."""

    at: int


ViewEntry = MessageSegment | BackwardSegment | ReadyForNext


class LiveComment(NamedTuple):
    """One live comment as the message server sent it; `to_comment` gives the `records.Comment`
    the store keeps (its live fields set, no comment id: the message id is the key)."""

    thread_id: str  # the program id, lv…
    fork: str  # always LIVE_FORK
    no: int
    vpos_ms: int  # from vpos (1/100 s since vposBaseTime)
    posted_at: int  # meta.at, Unix seconds
    content: str
    commands: str  # rebuilt from the modifier by the rule of live.md §4
    date_usec: int | None
    user_id: str | None  # raw_user_id when > 0, else hashed_user_id
    is_premium: bool
    is_anonymous: bool  # raw_user_id 0 or absent
    message_id: str  # meta.id: unique, the de-duplication key
    is_overflowed: bool = False  # posted as overflowed_chat: normally hidden by players
    name: str | None = None  # the display name, when the chat carried one

    def to_comment(self) -> Comment:
        return Comment(
            thread_id=self.thread_id,
            fork=self.fork,
            no=self.no,
            vpos_ms=self.vpos_ms,
            posted_at=self.posted_at,
            content=self.content,
            commands=self.commands,
            date_usec=self.date_usec,
            user_id=self.user_id,
            is_premium=self.is_premium,
            is_anonymous=self.is_anonymous,
            message_id=self.message_id,
            is_overflowed=self.is_overflowed,
            name=self.name,
        )


@dataclass(frozen=True)
class LiveEvent:
    """A message that is not a comment: gift, notification, nicoad, tag update, …"""

    thread_id: str
    message_id: str
    posted_at: int | None
    date_usec: int | None
    kind: str  # the NicoliveMessage member: 'gift', 'simple_notification', …, or UNKNOWN_EVENT
    payload: dict[str, Any]  # the member as proto3 JSON (json_format.MessageToDict)
    raw: bytes = field(repr=False)  # the whole NicoliveMessage as sent, unknown fields included


@dataclass(frozen=True)
class LiveState:
    """A program state message (statistics, enquete, …); not described by live.md, kept raw."""

    thread_id: str
    message_id: str | None
    posted_at: int | None
    raw: bytes = field(repr=False)


@dataclass(frozen=True)
class LiveSignal:
    """A stream control signal (``Flushed``)."""

    thread_id: str
    message_id: str | None
    name: str


LiveItem = LiveComment | LiveEvent | LiveState | LiveSignal


@dataclass(frozen=True)
class PackedBatch:
    """One backward answer: its messages in ascending time, and the next older batch's URI."""

    items: list[LiveItem]
    next_uri: str | None
    snapshot_uri: str | None = None


# --- the view stream -------------------------------------------------------------------------


def parse_view_entry(data: bytes) -> ViewEntry | None:
    """One `ChunkedEntry`; None for an entry kind this version does not know."""
    entry = _decode(pb.ChunkedEntry, data, "view stream entry")
    kind = entry.WhichOneof("entry")
    if kind in ("segment", "previous"):
        segment = getattr(entry, kind)
        return MessageSegment(
            uri=_uri(segment.uri, kind),
            from_at=_seconds(segment, "from"),
            until_at=_seconds(segment, "until"),
            previous=kind == "previous",
        )
    if kind == "backward":
        backward = entry.backward
        return BackwardSegment(
            uri=_uri(backward.segment.uri, "backward"),
            until_at=_seconds(backward, "until"),
            snapshot_uri=backward.snapshot.uri or None,
        )
    if kind == "next":
        return ReadyForNext(at=entry.next.at)
    log.debug("skipping a view entry of an unknown kind (%d bytes)", len(data))
    return None


def iter_view_entries(chunks: Iterable[bytes]) -> Iterator[ViewEntry]:
    """The entries of a view answer as its chunks arrive (unknown kinds skipped)."""
    for data in iter_delimited(chunks):
        entry = parse_view_entry(data)
        if entry is not None:
            yield entry


# --- messages --------------------------------------------------------------------------------


def parse_packed_segment(data: bytes, program_id: str) -> PackedBatch:
    """A backward answer: one plain `PackedSegment` (no length prefix)."""
    packed = _decode(pb.PackedSegment, data, "backward segment")
    items = [item for m in packed.messages if (item := _item(m, program_id)) is not None]
    return PackedBatch(
        items=items,
        next_uri=packed.next.uri or None,
        snapshot_uri=packed.snapshot.uri or None,
    )


def parse_chunked_message(data: bytes, program_id: str) -> LiveItem | None:
    """One `ChunkedMessage`; None for a payload kind this version does not know."""
    return _item(_decode(pb.ChunkedMessage, data, "message"), program_id)


def iter_segment_items(chunks: Iterable[bytes], program_id: str) -> Iterator[LiveItem]:
    """The messages of a segment answer as its chunks arrive (unknown kinds skipped)."""
    for data in iter_delimited(chunks):
        item = parse_chunked_message(data, program_id)
        if item is not None:
            yield item


def _item(message: pb.ChunkedMessage, program_id: str) -> LiveItem | None:
    meta = message.meta
    kind = message.WhichOneof("payload")
    if kind == "message":
        return _nicolive_message(message.message, meta, program_id)
    if kind == "state":
        return LiveState(
            thread_id=program_id,
            message_id=meta.id or None,
            posted_at=_seconds(meta, "at"),
            raw=message.state.SerializeToString(),
        )
    if kind == "signal":
        return LiveSignal(
            thread_id=program_id,
            message_id=meta.id or None,
            name=_enum_name(pb.ChunkedMessage.Signal, message.signal) or f"signal {message.signal}",
        )
    log.debug("skipping a message with an unknown payload (id %r)", meta.id)
    return None


def _nicolive_message(
    message: pb.NicoliveMessage, meta: pb.ChunkedMessage.Meta, program_id: str
) -> LiveItem | None:
    kind = message.WhichOneof("data")
    if kind in CHAT_MEMBERS:
        return live_comment(getattr(message, kind), meta, program_id, kind == "overflowed_chat")
    raw = message.SerializeToString()
    if kind is None and not raw:
        return None  # an empty message: nothing to keep
    if not meta.id:
        raise BadAnswer(f"the message server sent a {kind or 'message'} without a message id")
    payload = (
        json_format.MessageToDict(getattr(message, kind), preserving_proto_field_name=True)
        if kind is not None
        else {}
    )
    return LiveEvent(
        thread_id=program_id,
        message_id=meta.id,
        posted_at=_seconds(meta, "at"),
        date_usec=meta.at.nanos // 1000 if meta.HasField("at") else None,
        kind=kind or UNKNOWN_EVENT,
        payload=payload,
        raw=raw,
    )


# --- the comment mapping (live.md §4) --------------------------------------------------------


def live_comment(
    chat: pb.Chat, meta: pb.ChunkedMessage.Meta, program_id: str, overflowed: bool = False
) -> LiveComment:
    """A `Chat` and its `Meta` as our comment record."""
    if not meta.id:
        raise BadAnswer(f"the message server sent comment no {chat.no} without a message id")
    if not meta.HasField("at"):
        raise BadAnswer(f"the message server sent comment no {chat.no} without a posting time")
    raw_user_id = chat.raw_user_id if chat.HasField("raw_user_id") else 0
    if raw_user_id > 0:
        user_id: str | None = str(raw_user_id)
    else:
        user_id = chat.hashed_user_id or None
    return LiveComment(
        thread_id=program_id,
        fork=LIVE_FORK,
        no=chat.no,
        vpos_ms=chat.vpos * 10,
        posted_at=meta.at.seconds,
        content=chat.content,
        commands=chat_commands(chat),
        date_usec=meta.at.nanos // 1000,
        user_id=user_id,
        is_premium=chat.account_status == pb.Chat.Premium,
        is_anonymous=raw_user_id <= 0,
        message_id=meta.id,
        is_overflowed=overflowed,
        name=chat.name if chat.HasField("name") else None,
    )


def chat_commands(chat: pb.Chat) -> str:
    """The classic live logs' ``mail``: ``184``, position, size, colour, font, ``translucent``,
    each only when it differs from the default. A value this version does not know is left
    out (and logged) rather than guessed."""
    commands = []
    if not (chat.HasField("raw_user_id") and chat.raw_user_id > 0):
        commands.append("184")
    modifier = chat.modifier
    for name, enum in _ENUM_COMMANDS:
        commands.append(_modifier_word(enum, getattr(modifier, name)))
    colour = modifier.WhichOneof("color")
    if colour == "full_color":
        rgb = modifier.full_color
        commands.append("#" + "".join(f"{min(max(c, 0), 255):02x}" for c in (rgb.r, rgb.g, rgb.b)))
    elif colour == "named_color":
        commands.append(_modifier_word(_MODIFIER.ColorName, modifier.named_color))
    commands.append(_modifier_word(_MODIFIER.Font, modifier.font))
    if modifier.opacity == _MODIFIER.Translucent:
        commands.append("translucent")
    elif modifier.opacity != _MODIFIER.Normal:
        log.debug("leaving out an unknown opacity %d", modifier.opacity)
    return " ".join(word for word in commands if word)


def _modifier_word(enum: Any, value: int) -> str:
    if value == 0:  # naka, medium, white, defont: the defaults are never written
        return ""
    name = _enum_name(enum, value)
    if name is None:
        log.debug("leaving out an unknown %s value %d", enum.DESCRIPTOR.name, value)
        return ""
    return name


# --- helpers ---------------------------------------------------------------------------------


def _decode(message_type: type[Message], data: bytes, what: str) -> Any:
    message = message_type()
    try:
        message.ParseFromString(data)
    except DecodeError:
        raise BadAnswer(
            f"the message server sent a {what} that is not a valid protocol buffer"
        ) from None
    return message


def _enum_name(enum: Any, value: int) -> str | None:
    try:
        return enum.Name(value)
    except ValueError:
        return None


def _seconds(message: Message, name: str) -> int | None:
    return getattr(message, name).seconds if message.HasField(name) else None


def _uri(uri: str, kind: str) -> str:
    if not uri:
        raise BadAnswer(f"the view stream named a {kind} segment without an address")
    return uri
