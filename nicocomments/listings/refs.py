"""What `nico crawl` is asked to crawl: a collection reference (REF), parsed from its short form
(``user/123``, ``tag/VOCALOID``) or a site URL, into a typed `CollectionRef`. Pure: no I/O.

    >>> parse_ref("https://www.nicovideo.jp/user/123/mylist/456")
    CollectionRef(kind='mylist', key='456')
    >>> parse_ref("tag/初音ミク").name
    'tag/初音ミク'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from nicocomments.errors import BadInput
from nicocomments.limits import shown

# kind → where its videos come from (the README's table is generated from this)
KINDS = {
    "user": "nvapi: the user's uploads (/v3/users/{id}/videos, paged)",
    "mylist": "nvapi: /v2/mylists/{id}",
    "series": "nvapi: /v2/series/{id}",
    "tag": "Snapshot Search, targets=tagsExact",
    "search": "Snapshot Search, targets=title,description,tags",
    "channel": "the channel's video list pages, free and paid (HTML, 20 a page; no counts)",
    "file": "video ids from a file, one a line (--from-file)",
    "sql": "video ids from a query on the database itself (--sql)",
}
NUMERIC_KINDS = ("user", "mylist", "series")
MAX_KEY_CHARS = 512  # a search longer than this is not a search
_NUMBER = re.compile(r"[1-9][0-9]{0,15}")
_SLUG = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SITE_HOSTS = ("nicovideo.jp", "nico.ms")


@dataclass(frozen=True)
class CollectionRef:
    """A collection: ``kind`` (one of `KINDS`) and its ``key`` (a user, mylist or series
    number, a tag, search words, a channel slug, a file path or an SQL query)."""

    kind: str
    key: str

    @property
    def name(self) -> str:
        """The canonical short form, stored as the collection's name."""
        return f"{self.kind}/{self.key}"

    @property
    def searched(self) -> bool:
        """Listed through Snapshot Search."""
        return self.kind in ("tag", "search")


def parse_ref(text: str) -> CollectionRef:
    """A REF as the user typed it → `CollectionRef`, or `BadInput` saying what is accepted."""
    raw = text.strip()
    if not raw:
        raise BadInput("an empty collection reference")
    if "://" in raw or raw.startswith(("www.", "nicovideo.jp", "ch.nicovideo.jp")):
        return _from_url(raw, text)
    kind, slash, key = raw.partition("/")
    kind = kind.lower()
    if not slash or kind not in KINDS or kind in ("file", "sql"):
        raise BadInput(
            f"{shown(text)} is not a collection: use user/ID, mylist/ID, series/ID, tag/TAG, "
            "search/WORDS, channel/SLUG or a nicovideo.jp URL (or --from-file, --sql)"
        )
    return _checked(kind, unquote(key).strip(), text)


def _from_url(raw: str, text: str) -> CollectionRef:
    url = raw if "://" in raw else "https://" + raw
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        raise BadInput(f"{shown(text)} is not a URL") from None
    if parts.scheme.lower() not in ("http", "https") or not any(
        host == h or host.endswith("." + h) for h in _SITE_HOSTS
    ):
        raise BadInput(f"{shown(text)} is not a Niconico URL")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if host.startswith("ch."):
        if segments:
            return _checked("channel", segments[0], text)
    elif len(segments) >= 2:
        first, second = segments[0], segments[1]
        if first == "user" and len(segments) >= 4 and segments[2] in ("mylist", "series"):
            return _checked(segments[2], segments[3], text)
        if first == "user" and (len(segments) == 2 or segments[2] == "video"):
            return _checked("user", second, text)
        if first in ("mylist", "series", "tag"):
            return _checked(first, second, text)
        if first == "search":
            return _checked("search", second, text)
    raise BadInput(
        f"{shown(text)} is not a collection URL (a user, mylist, series, tag, search or channel)"
    )


def _checked(kind: str, key: str, text: str) -> CollectionRef:
    if kind in NUMERIC_KINDS and not _NUMBER.fullmatch(key):
        raise BadInput(f"{shown(text)}: a {kind} is a number")
    if kind == "channel" and not _SLUG.fullmatch(key):
        raise BadInput(f"{shown(text)}: a channel is a slug like ch2632720 or a name")
    if not key:
        raise BadInput(f"{shown(text)}: {kind}/ needs something after the slash")
    if len(key) > MAX_KEY_CHARS:
        raise BadInput(f"{shown(text)}: longer than {MAX_KEY_CHARS} characters")
    return CollectionRef(kind, key)
