"""Legacy api.json: the message server's JSON answer, ``[{"ping": …}, {"thread": …},
{"chat": …}, …]``. Read only: `nico export` writes legacy comments as XML (`formats.xml`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from nicocomments.formats.common import (
    Item,
    MalformedFile,
    SyntheticNumbers,
    VideoHint,
    chat_to_comment,
    json_items,
    text_of,
    thread_from_fields,
)

#: The keys an api.json answer's objects start with (how `formats.sniff_format` knows it).
APIJSON_KEYS = frozenset({"chat", "thread", "ping", "leaf", "global_num_res", "view_counter"})


def read_apijson(stream: IO[bytes]) -> Iterator[Item]:
    """An api.json answer: ``[{"ping": …}, {"thread": …}, {"chat": …}, …]`` (also without the
    ping/thread/leaf objects, as tools that keep only the chats write it, and yt-dlp's older
    ``.comments.json``)."""
    numbers = SyntheticNumbers()
    answered = requested = False
    for element in json_items(stream, "item"):
        if not isinstance(element, dict):
            raise MalformedFile("an api.json element is not an object")
        if "chat" in element:
            chat = element["chat"]
            if not isinstance(chat, dict):
                raise MalformedFile("an api.json chat is not an object")
            answered = True
            yield chat_to_comment(chat, text_of(chat.get("content"), "a chat's content"), numbers)
        elif "thread" in element and isinstance(element["thread"], dict):
            if "resultcode" in element["thread"]:  # an answer; a request has none
                answered = True
                yield thread_from_fields(element["thread"])
            else:
                requested = True
        elif "thread_leaves" in element:
            requested = True
        elif "view_counter" in element and isinstance(element["view_counter"], dict):
            hint = element["view_counter"].get("id")
            if hint:
                yield VideoHint(text_of(hint, "a view_counter id"))
    if requested and not answered:
        raise MalformedFile(
            "this is an api.json request (what a client sends to the message server), not the "
            "server's answer: it holds no comments; import the answer instead"
        )
