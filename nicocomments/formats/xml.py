"""Legacy ``<packet>`` XML: the message server's answer, as Saccubus, Niconicome, NicoFox and
live recordings saved it, read back and written (for danmaku2ass and comment players).

The one format module that imports lxml (the import-linter contracts in ``pyproject.toml``
allow exactly this one): files from the internet get the hardened parser options the network
side uses for the message server's answers (`nicocomments.xmlsafe`). `legacy.parse_packet` is
not reused because it takes the whole answer as one bytes object; here ``iterparse`` reads the
stream and hands over one element at a time, each freed once read, so a file of any size is
read in constant memory. A ``<chat>``'s attributes mean what they mean to the message-server
parser (`formats.common.chat_to_comment`, shared with api.json).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from typing import IO

from lxml import etree

from nicocomments.formats.common import (
    HEAD_BYTES,
    Item,
    MalformedFile,
    SyntheticNumbers,
    VideoHint,
    chat_to_comment,
    prefixed,
    thread_from_fields,
)
from nicocomments.records import LIVE_FORK, NUMBER_BY_FORK, Comment
from nicocomments.xmlsafe import PARSER_OPTIONS, declares_dtd, xml_attr, xml_text

XML_HEAD = b'<?xml version="1.0" encoding="UTF-8"?><packet>'
XML_TAIL = b"</packet>\n"

# What may stand before the root element: a BOM, the declaration, comments, whitespace.
_PROLOG_THEN_PACKET = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>)?\s*(?:<!--.*?-->\s*)*<packet[\s/>]", re.S
)
_TAGS = ("chat", "thread", "view_counter")


def read_xml(stream: IO[bytes]) -> Iterator[Item]:
    """Chats (deleted ones included, duplicates left to the store), thread statuses and the
    ``<view_counter>``'s video id, in file order. A DTD is refused before parsing (the door to
    XXE and entity bombs); entities are never resolved and nothing is fetched."""
    head = stream.read(HEAD_BYTES)
    if declares_dtd(head):
        raise MalformedFile("the XML declares a DTD; refusing to read it")
    if not _PROLOG_THEN_PACKET.match(head):
        raise MalformedFile("not a legacy comment file: its root element is not <packet>")
    numbers = SyntheticNumbers()
    events = etree.iterparse(
        prefixed(head, stream),
        events=("end",),
        tag=_TAGS,
        **PARSER_OPTIONS,
    )
    try:
        for _event, element in events:
            tag = element.tag
            if tag == "chat":
                yield chat_to_comment(element.attrib, element.text or "", numbers)
            elif tag == "thread":
                yield thread_from_fields(element.attrib)
            elif element.get("id"):
                yield VideoHint(element.get("id"))
            # Free what has been read: the element and the siblings before it.
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise MalformedFile(f"not well-formed XML ({exc})") from None


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
            if c.fork not in ("main", LIVE_FORK):  # live logs name no fork
                attributes["fork"] = str(NUMBER_BY_FORK.get(c.fork, c.fork))
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
    if c.fork not in ("main", LIVE_FORK):  # live logs name no fork
        attributes["fork"] = str(NUMBER_BY_FORK.get(c.fork, c.fork))
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
