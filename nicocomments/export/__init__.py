"""Writing a video's comments in formats other tools read.

Every writer takes an iterable of `Comment` records (as `store.iter_comments` streams them) and a
binary stream, writes as it goes, and returns how many comments it wrote:

========  ====================================================================================
xml       the legacy ``<packet>`` format, starting with exactly
          ``<?xml version="1.0" encoding="UTF-8"?><packet>`` so danmaku2ass recognises it
json      nvcomment v1's ``threads`` array (``[{id, fork, commentCount, comments: […]}]``), the
          input niconicomments takes as format ``v1``
jsonl     one JSON object per comment, every column (for jq, DuckDB, pandas)
csv       every column, a header line, UTF-8 (for spreadsheets, R, pandas)
parquet   every column, typed (pyarrow: ``pip install 'nicocomments[parquet]'``)
ass       subtitles for video players (pysubs2: ``pip install 'nicocomments[ass]'``)
========  ====================================================================================

jsonl, csv and parquet hold every column, and `nico import` reads them back exactly (``read_*``
beside each ``write_*``). `hash_user_ids` replaces user ids with a salted hash before writing,
for sharing a dataset.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator

from nicocomments.records import Comment

FORMATS = ("xml", "json", "jsonl", "csv", "parquet", "ass")
BINARY_FORMATS = frozenset({"parquet"})
HASH_LENGTH = 16  # hex digits kept of the HMAC-SHA256: 64 bits, no collisions in practice


def hash_user_id(user_id: str, salt: str) -> str:
    """HMAC-SHA256 of the user id keyed with ``salt``, truncated: the same id and salt always
    give the same result, so a user's comments stay linkable inside a shared dataset, but
    without the salt nobody can tell whose they are.

    >>> hash_user_id("12345", "my secret salt")
    '89d6901fca3ef06a'
    """
    digest = hmac.new(salt.encode("utf-8"), user_id.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:HASH_LENGTH]


def hash_user_ids(comments: Iterable[Comment], salt: str) -> Iterator[Comment]:
    cache: dict[str, str] = {}
    for comment in comments:
        user = comment.user_id
        if user is not None:
            hashed = cache.get(user)
            if hashed is None:
                hashed = cache[user] = hash_user_id(user, salt)
            comment = comment._replace(user_id=hashed)
        yield comment


def writer(fmt: str) -> Callable[..., int]:
    """The writer of a format (importing its optional library only when it is used)."""
    if fmt in ("xml", "json", "jsonl", "csv"):
        from nicocomments.export import text

        return getattr(text, f"write_{fmt}")
    if fmt == "parquet":
        from nicocomments.export.parquet import write_parquet

        return write_parquet
    if fmt == "ass":
        from nicocomments.export.ass import write_ass

        return write_ass
    raise ValueError(f"unknown export format {fmt!r}")
