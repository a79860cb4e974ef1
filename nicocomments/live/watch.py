"""A Niconico Live watch page's embedded data → `ProgramInfo` (live.md §1.1; pure).

The page carries ``<script id="embedded-data" data-props="{…}">``: HTML-escaped JSON, read from
the raw answer (lxml unescapes the attribute). Only the members nico uses are read, and each is
checked, so a page that is not what it should be is one clear `BadAnswer`, never a traceback.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree, html

from nicocomments.errors import BadAnswer

ON_AIR = "ON_AIR"
ENDED = "ENDED"
RELEASED = "RELEASED"  # scheduled, not begun
PROGRAM_ID = re.compile(r"lv[1-9][0-9]*")

_HTML_PARSER = html.HTMLParser(no_network=True, remove_comments=True)
_WHAT = "the live watch page's embedded data"


@dataclass(frozen=True)
class ProgramInfo:
    """A program as its watch page describes it. Times are Unix seconds."""

    program_id: str  # lv…
    title: str
    status: str  # ON_AIR, ENDED, RELEASED, or whatever else the site says
    begin_time: int
    vpos_base_time: int  # vpos 0 of every comment
    open_time: int | None = None
    end_time: int | None = None
    scheduled_end_time: int | None = None
    # Where to ask for the message server; None when this viewer may not watch (e.g. an ended
    # program whose timeshift is not reserved and started, live.md §5).
    web_socket_url: str | None = None

    @property
    def on_air(self) -> bool:
        return self.status == ON_AIR

    @property
    def ended(self) -> bool:
        return self.status == ENDED


def parse_program_info(page: bytes | str) -> ProgramInfo:
    """The program of a live watch page, or `BadAnswer` naming what is wrong with the page."""
    data = _embedded_data(page)
    program = _member(data, "program", dict)
    program_id = _member(program, "nicoliveProgramId", str, "program.")
    if not PROGRAM_ID.fullmatch(program_id):
        raise BadAnswer(f"{_WHAT} names the program {program_id!r}, which is not an lv… id")
    site = _member(data, "site", dict)
    relive = _member(site, "relive", dict, "site.")
    web_socket_url = _member(relive, "webSocketUrl", str, "site.relive.") or None
    if web_socket_url is not None and not web_socket_url.startswith(("wss://", "ws://")):
        raise BadAnswer(f"{_WHAT} gives a webSocketUrl that is not a WebSocket address")
    return ProgramInfo(
        program_id=program_id,
        title=_member(program, "title", str, "program."),
        status=_member(program, "status", str, "program."),
        begin_time=_time(program, "beginTime"),
        vpos_base_time=_time(program, "vposBaseTime"),
        open_time=_time(program, "openTime", required=False),
        end_time=_time(program, "endTime", required=False),
        scheduled_end_time=_time(program, "scheduledEndTime", required=False),
        web_socket_url=web_socket_url,
    )


def _embedded_data(page: bytes | str) -> dict[str, Any]:
    try:
        document = html.fromstring(page, parser=_HTML_PARSER)
    except (etree.LxmlError, ValueError):  # empty or blank page; text declaring an encoding
        document = None
    props = None
    if document is not None:
        for script in document.iter("script"):
            if script.get("id") == "embedded-data":
                props = script.get("data-props")
                break
    if not props:
        raise BadAnswer("the page is not a Niconico Live watch page: it has no embedded data")
    try:
        data = json.loads(props)
    except ValueError:
        raise BadAnswer(f"{_WHAT} is not JSON") from None
    if not isinstance(data, dict):
        raise BadAnswer(f"{_WHAT} is not a JSON object")
    return data


def _member(parent: dict[str, Any], key: str, kind: type, path: str = "") -> Any:
    if key not in parent or parent[key] is None:
        raise BadAnswer(f"{_WHAT} has no {path}{key}")
    value = parent[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadAnswer(f"{_WHAT} has a {path}{key} that is not {_KIND_NAMES[kind]}")
    return value


_KIND_NAMES = {dict: "an object", str: "a string", int: "a number of seconds"}


def _time(program: dict[str, Any], key: str, *, required: bool = True) -> int | None:
    if not required and program.get(key) is None:
        return None
    value = program.get(key)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return _member(program, key, int, "program.")
