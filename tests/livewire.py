"""Builders of NDGR wire bytes for the live tests, written with the official protobuf runtime
from the project's own .proto (the varint prefix from the runtime's own encoder)."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.internal.encoder import _VarintBytes

from nicocomments.live import ndgr_pb2 as pb


def varint(value: int) -> bytes:
    return _VarintBytes(value)


def delimited(messages: Iterable[bytes | pb.ChunkedMessage | pb.ChunkedEntry]) -> bytes:
    """A length-delimited stream: ``varint length`` + message, for each message."""
    out = []
    for message in messages:
        data = message if isinstance(message, bytes) else message.SerializeToString()
        out.append(varint(len(data)) + data)
    return b"".join(out)


def chat_message(
    message_id: str,
    *,
    no: int = 1,
    vpos: int = 0,
    at: int = 1_722_837_600,
    nanos: int = 0,
    content: str = "wwww",
    overflowed: bool = False,
    **chat_fields,
) -> pb.ChunkedMessage:
    """A ChunkedMessage holding a chat; ``chat_fields`` go to `pb.Chat` (``modifier`` as a dict)."""
    message = pb.ChunkedMessage()
    message.meta.id = message_id
    message.meta.at.seconds = at
    message.meta.at.nanos = nanos
    chat = message.message.overflowed_chat if overflowed else message.message.chat
    chat.content = content
    chat.no = no
    chat.vpos = vpos
    modifier = chat_fields.pop("modifier", {})
    for name, value in chat_fields.items():
        setattr(chat, name, value)
    chat.modifier.SetInParent()
    for name, value in modifier.items():
        if name == "full_color":
            chat.modifier.full_color.r, chat.modifier.full_color.g, chat.modifier.full_color.b = (
                value
            )
        else:
            setattr(chat.modifier, name, value)
    return message


def gift_message(
    message_id: str, *, at: int = 1_722_837_600, point: int = 500
) -> pb.ChunkedMessage:
    message = pb.ChunkedMessage()
    message.meta.id = message_id
    message.meta.at.seconds = at
    gift = message.message.gift
    gift.item_id = "nicoad-kaede"
    gift.advertiser_user_id = 12345
    gift.advertiser_name = "ギフト主"
    gift.point = point
    gift.message = "おめでとう"
    gift.item_name = "楓"
    gift.contribution_rank = 3
    return message


def field(number: int, wire_type: int, payload: bytes) -> bytes:
    """One raw field: tag + payload (payload already varint- or length-encoded as needed)."""
    return varint(number << 3 | wire_type) + payload


def length_field(number: int, data: bytes) -> bytes:
    return field(number, 2, varint(len(data)) + data)
