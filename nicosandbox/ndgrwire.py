"""The NDGR message server's bytes (live.md §2, §3), written with the protobuf runtime from the
emulator's own ``ndgr.proto``: length-delimited streams of `ChunkedEntry` (the view) and
`ChunkedMessage` (segments), and one plain `PackedSegment` (a backward answer)."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.internal.encoder import _VarintBytes

from nicosandbox import ndgr_pb2 as pb
from nicosandbox.liveworld import LiveMessage

CHATS = ("chat", "overflowed_chat")


def delimited(messages: Iterable[object]) -> bytes:
    """``varint length`` + message bytes, for each message."""
    out = bytearray()
    for message in messages:
        data = message.SerializeToString()  # type: ignore[attr-defined]
        out += _VarintBytes(len(data)) + data
    return bytes(out)


def chunked_message(message: LiveMessage, live_id: int) -> pb.ChunkedMessage:
    out = pb.ChunkedMessage()
    out.meta.id = message.message_id
    out.meta.at.seconds = message.at
    out.meta.at.nanos = message.nanos
    out.meta.origin.chat.live_id = live_id
    if message.kind in CHATS:
        chat = getattr(out.message, message.kind)
        chat.content = message.content
        if message.name is not None:
            chat.name = message.name
        chat.vpos = message.vpos
        chat.account_status = pb.Chat.Premium if message.premium else pb.Chat.Standard
        if message.raw_user_id:
            chat.raw_user_id = message.raw_user_id
        if message.hashed_user_id is not None:
            chat.hashed_user_id = message.hashed_user_id
        position, size, colour, font, opacity = message.modifier
        modifier = chat.modifier
        modifier.position, modifier.size = position, size
        if isinstance(colour, tuple):
            modifier.full_color.r, modifier.full_color.g, modifier.full_color.b = colour
        else:
            modifier.named_color = colour
        modifier.font, modifier.opacity = font, opacity
        chat.no = message.no
    elif message.kind == "gift":
        for name, value in message.fields:
            setattr(out.message.gift, name, value)
    elif message.kind == "simple_notification":
        for name, value in message.fields:
            setattr(out.message.simple_notification, name, value)
    else:
        getattr(out.message, message.kind).SetInParent()
    return out


def segment_stream(messages: Iterable[LiveMessage], live_id: int) -> bytes:
    return delimited(chunked_message(m, live_id) for m in messages)


def packed_segment(
    messages: Iterable[LiveMessage], live_id: int, next_uri: str | None, snapshot_uri: str
) -> bytes:
    packed = pb.PackedSegment()
    packed.messages.extend(chunked_message(m, live_id) for m in messages)
    if next_uri is not None:
        packed.next.uri = next_uri
    packed.snapshot.uri = snapshot_uri
    return packed.SerializeToString()


def view_entry_segment(uri: str, start: int, end: int, *, previous: bool = False):
    entry = pb.ChunkedEntry()
    segment = entry.previous if previous else entry.segment
    getattr(segment, "from").seconds = start
    segment.until.seconds = end
    segment.uri = uri
    return entry


def view_entry_backward(uri: str, until: int, snapshot_uri: str):
    entry = pb.ChunkedEntry()
    entry.backward.until.seconds = until
    entry.backward.segment.uri = uri
    entry.backward.snapshot.uri = snapshot_uri
    return entry


def view_entry_next(at: int):
    entry = pb.ChunkedEntry()
    entry.next.at = at
    return entry
