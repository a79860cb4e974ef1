"""A channel's video list page (``ch.nicovideo.jp/{slug}/video?page=N``) → its video ids. Pure:
HTML in, ids out (collections.md §1: "video ids in the list markup").

The page is read as HTML (lxml, nothing fetched, comments dropped) and every link to a watch
page counts: ``https://www.nicovideo.jp/watch/so123``, with or without a query, a fragment, a
scheme (``//www…``) or a host (``/watch/so123``, as a page may link relative to the site).
Each video is listed once, where it first appears (a list item links its thumbnail and its
title to the same video). Anything else is not a video: links to other pages, a live program
(``lv…``), another site, or a watch link without an id.

    >>> parse_channel_page('<li><a href="https://www.nicovideo.jp/watch/so41?ref=x">a</a>'
    ...                    '<a href="/watch/so41">a</a><a href="/ch/video?page=2">next</a></li>')
    ['so41']
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from nicocomments.ids import PROGRAM_PREFIX, VIDEO_ID_PREFIXES
from nicocomments.watchpage import parse_html

_VIDEO_PREFIXES = tuple(p for p in VIDEO_ID_PREFIXES if p != PROGRAM_PREFIX)
_WATCH_ID = re.compile(f"(?:{'|'.join(_VIDEO_PREFIXES)})[1-9][0-9]{{0,11}}")
_SITE = "nicovideo.jp"
_SCHEMES = ("", "http", "https")


def parse_channel_page(page: bytes | str) -> list[str]:
    """The video ids a list page links to, in page order, each once (none for an empty page
    or one that is not HTML)."""
    document = parse_html(page)
    if document is None:
        return []
    ids: dict[str, None] = {}
    for anchor in document.iter("a"):
        video_id = watch_link_id(anchor.get("href"))
        if video_id is not None:
            ids.setdefault(video_id, None)
    return list(ids)


def watch_link_id(href: str | None) -> str | None:
    """The video id of a link to a Niconico watch page, else None."""
    if not href:
        return None
    try:
        parts = urlsplit(href.strip())
        host = (parts.hostname or "").lower()
    except ValueError:  # an unclosed [ in the host, say
        return None
    if parts.scheme.lower() not in _SCHEMES:
        return None
    if host and host != _SITE and not host.endswith("." + _SITE):
        return None
    if host.startswith("live"):  # live.nicovideo.jp/watch/lv…: a program, never a video
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) != 2 or segments[0] != "watch":
        return None
    candidate = segments[1].lower()
    return candidate if _WATCH_ID.fullmatch(candidate) else None
