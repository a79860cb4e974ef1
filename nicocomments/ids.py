"""Video ids as users type them (sm9, so123, nm456, a bare thread id, or a watch URL) and as
file names carry them (``Title [sm9].comments.json``)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from nicocomments.errors import BadInput
from nicocomments.limits import shown

# sm: user upload, so: channel/official, nm: Nico Movie Maker, nl: early "nicolive", ss: shorts,
# lv: a Niconico Live program (stored like a video; live.md §4).
VIDEO_ID_PREFIXES = ("sm", "so", "nm", "nl", "ss", "lv")
PROGRAM_PREFIX = "lv"
_NUMBER = "[1-9][0-9]{0,11}"  # ASCII digits only: \d would also take ９ and ٣
_PREFIXED = f"(?:{'|'.join(VIDEO_ID_PREFIXES)}){_NUMBER}"
_VIDEO_ID = re.compile(f"{_PREFIXED}|{_NUMBER}")
# A prefixed id not preceded or followed by a letter or digit, so "result_3_sm9__version…" and
# "Title [sm9].comments.json" both give sm9.
VIDEO_ID_IN_NAME = re.compile(f"(?<![A-Za-z0-9])({_PREFIXED})(?![0-9])")
_URL_HOSTS = ("nicovideo.jp", "nico.ms")


def parse_video_id(text: str) -> str:
    """Return the canonical id (``sm9``, ``so123``, ``1397552685``, ``lv345``) or raise
    `BadInput`.

    >>> parse_video_id("https://www.nicovideo.jp/watch/sm9?ref=search")
    'sm9'
    >>> parse_video_id("nico.ms/sm9")
    'sm9'
    """
    raw = text.strip()
    candidate = raw
    not_a_url = BadInput(f"{shown(text)} is not a Niconico watch URL")
    if "/" in raw:
        url = raw if "://" in raw else "https://" + raw
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:  # an unclosed [ in the host, say
            raise not_a_url from None
        if parts.scheme.lower() not in ("http", "https"):
            raise not_a_url
        if not any(host == h or host.endswith("." + h) for h in _URL_HOSTS):
            raise not_a_url
        segments = [s for s in parts.path.split("/") if s]
        if host.endswith("nico.ms") and len(segments) == 1:
            candidate = segments[0]
        elif len(segments) == 2 and segments[0] in ("watch", "shorts"):
            candidate = segments[1]
        else:
            raise not_a_url
    candidate = candidate.lower()
    if not _VIDEO_ID.fullmatch(candidate):
        raise BadInput(
            f"{shown(text)} is not a video id: expected sm…, so…, nm…, lv…, a thread number "
            "or a watch URL"
        )
    return candidate


def is_program_id(video_id: str) -> bool:
    """A Niconico Live program (``lv…``) rather than a video.

    >>> is_program_id(parse_video_id("https://live.nicovideo.jp/watch/lv345"))
    True
    """
    return video_id.startswith(PROGRAM_PREFIX)


def video_id_from_name(file_name: str) -> str | None:
    """``sm9.jsonl`` → sm9, ``Title [so123].comments.json`` → so123; None if there is none
    (the last one, if there are several)."""
    found = VIDEO_ID_IN_NAME.findall(file_name)
    return found[-1] if found else None
