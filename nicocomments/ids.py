"""Video ids as users type them: sm9, so123, nm456, a bare thread id, or a watch URL."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from nicocomments.errors import BadInput

# sm: user upload, so: channel/official, nm: Nico Movie Maker, nl: early "nicolive", ss: shorts.
_VIDEO_ID = re.compile(r"(?:sm|so|nm|nl|ss)[1-9]\d{0,11}|[1-9]\d{0,11}")
_URL_HOSTS = ("nicovideo.jp", "nico.ms")


def parse_video_id(text: str) -> str:
    """Return the canonical id (``sm9``, ``so123``, ``1397552685``) or raise `BadInput`.

    >>> parse_video_id("https://www.nicovideo.jp/watch/sm9?ref=search")
    'sm9'
    >>> parse_video_id("nico.ms/sm9")
    'sm9'
    """
    raw = text.strip()
    candidate = raw
    if "/" in raw:
        url = raw if "://" in raw else "https://" + raw
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not any(host == h or host.endswith("." + h) for h in _URL_HOSTS):
            raise BadInput(f"{text!r} is not a Niconico watch URL")
        segments = [s for s in parts.path.split("/") if s]
        if host.endswith("nico.ms") and len(segments) == 1:
            candidate = segments[0]
        elif len(segments) == 2 and segments[0] in ("watch", "shorts"):
            candidate = segments[1]
        else:
            raise BadInput(f"{text!r} is not a Niconico watch URL")
    candidate = candidate.lower()
    if not _VIDEO_ID.fullmatch(candidate):
        raise BadInput(
            f"{text!r} is not a video id: expected sm…, so…, nm…, a thread number or a watch URL"
        )
    return candidate
