"""Reading legacy ``<packet>`` XML files, streaming, with a hardened parser.

Why here and not in `nicocomments.importers`: the data side never imports lxml (see
``tests/test_layers.py``), and files from the internet deserve the same hardened parser
options the network side uses for the message server's answers (`nicocomments.xmlsafe`).
`legacy.parse_packet` itself is not reused because it takes the whole answer as one bytes
object; here ``iterparse`` reads the stream and hands over one element at a time, each freed
once read, so a file of any size is read in constant memory. The mapping of a ``<chat>``'s
attributes is `importers.chat_to_comment`, shared with the api.json reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from lxml import etree

from nicocomments.importers import (
    HEAD_BYTES,
    Item,
    MalformedFile,
    SyntheticNumbers,
    VideoHint,
    chat_to_comment,
    prefixed,
    thread_from_fields,
)
from nicocomments.xmlsafe import PARSER_OPTIONS, declares_dtd

# What may stand before the root element: a BOM, the declaration, comments, whitespace.
_PROLOG_THEN_PACKET = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>)?\s*(?:<!--.*?-->\s*)*<packet[\s/>]", re.S
)
_TAGS = ("chat", "thread", "view_counter")


def read_packet(stream: IO[bytes]) -> Iterator[Item]:
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
