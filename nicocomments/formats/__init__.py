"""Comment files: one module per format, its reader (``read_*``) and writer (``write_*``) side by
side. Pure: streams in, records out (readers) and records in, bytes out (writers); nothing here
touches the network or the database (`nicocomments.ingest` stores what readers yield,
`nico export` hands writers what `store.iter_comments` streams).

=========  ==============  ========================  ==============================================
format     module          read (``nico import``)    written (``nico export``)
=========  ==============  ========================  ==============================================
xml        ``xml.py``      `read_xml`                `write_xml`: the legacy ``<packet>``
v1         ``v1.py``       `read_v1`                 `write_v1` (``--format json``): v1 ``threads``
apijson    ``apijson.py``  `read_apijson`            -
ytdlp      ``ytdlp.py``    `read_ytdlp`              -
nii        ``nii.py``      `read_nii`                -
jsonl      ``jsonl.py``    `read_jsonl`              `write_jsonl`: every column
csv        ``csv.py``      `read_csv`                `write_csv`: every column
parquet    ``parquet.py``  `read_parquet`            `write_parquet`: every column, typed
ass        ``ass.py``      -                         `write_ass`: subtitles for video players
=========  ==============  ========================  ==============================================

Every reader yields `Comment`, `ThreadStatus` and `VideoHint` items (``formats.common``) and
raises `MalformedFile` for a file that is not what its format promises. Every writer takes
``(comments, out, *, video_id, thread_counts)``, writes as it goes and returns how many comments
it wrote. What a new format needs: its module, a line in `_READERS` or `_WRITERS`, and (to be
recognised by ``--format auto``) a rule in `sniff_format`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

import orjson

from nicocomments.errors import BadInput
from nicocomments.formats import apijson, ass, csv, jsonl, nii, parquet, v1, xml, ytdlp
from nicocomments.formats.columns import KEY_COLUMNS
from nicocomments.formats.common import HEAD_BYTES, Item, MalformedFile, VideoHint
from nicocomments.records import Comment

__all__ = [
    "BINARY_FORMATS",
    "EXPORT_FORMATS",
    "HEAD_BYTES",
    "IMPORT_FORMATS",
    "NEEDS_VIDEO",
    "RANDOM_ACCESS",
    "Item",
    "MalformedFile",
    "VideoHint",
    "hash_user_id",
    "hash_user_ids",
    "read_items",
    "sniff_format",
    "write_file",
    "writer",
]

Reader = Callable[[IO[bytes], str], Iterator[Item]]
Writer = Callable[..., int]

_READERS: dict[str, Reader] = {
    "xml": lambda stream, video_id: xml.read_xml(stream),
    "v1": lambda stream, video_id: v1.read_v1(stream),
    "apijson": lambda stream, video_id: apijson.read_apijson(stream),
    "ytdlp": ytdlp.read_ytdlp,
    "nii": nii.read_nii,
    "jsonl": lambda stream, video_id: jsonl.read_jsonl(stream),
    "csv": lambda stream, video_id: csv.read_csv(stream),
    "parquet": lambda stream, video_id: parquet.read_parquet(stream),
}
_WRITERS: dict[str, Writer] = {
    "xml": xml.write_xml,
    "json": v1.write_v1,  # the name users know it by: niconicomments' "v1" JSON
    "jsonl": jsonl.write_jsonl,
    "csv": csv.write_csv,
    "parquet": parquet.write_parquet,
    "ass": ass.write_ass,
}

IMPORT_FORMATS = tuple(_READERS)
EXPORT_FORMATS = tuple(_WRITERS)
BINARY_FORMATS = frozenset({"parquet"})
NEEDS_VIDEO = frozenset({"ytdlp", "nii"})  # their thread ids are made of the video id
RANDOM_ACCESS = frozenset({"parquet"})  # read from the file itself (its index is at the end)
HASH_LENGTH = 16  # hex digits kept of the HMAC-SHA256: 64 bits, no collisions in practice


def read_items(fmt: str, stream: IO[bytes], video_id: str | None = None) -> Iterator[Item]:
    """The items of a file in format ``fmt`` (one of `IMPORT_FORMATS`); ``video_id`` names the
    thread of formats that carry none (`NEEDS_VIDEO`)."""
    return _READERS[fmt](stream, video_id or "")


def writer(fmt: str) -> Writer:
    """The writer of ``fmt`` (one of `EXPORT_FORMATS`)."""
    try:
        return _WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown export format {fmt!r}") from None


def sniff_format(head: bytes, file_name: str = "") -> str:
    """Which of `IMPORT_FORMATS` a file is, from its first bytes (and, for JSON Lines, its name).

    >>> sniff_format(b'[{"ping": {"content": "rs:0"}}, {"thread": {"resultcode": 0}}]')
    'apijson'
    >>> sniff_format(b'{"date": 1173000000, "vpos": 120, "content": "test"}')
    'nii'
    """
    if head.startswith(parquet.PARQUET_MAGIC):
        return "parquet"
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("<"):
        return "xml"
    if text.startswith("["):
        match = re.match(r'\[\s*\{\s*"([^"]+)"', text)
        if match and match.group(1) in apijson.APIJSON_KEYS:
            return "apijson"
        keys = set(re.findall(r'"([A-Za-z_]+)"\s*:', text[:4096]))
        if match is None or keys & v1.V1_THREAD_KEYS:
            return "v1"  # the bare threads array (or an empty array)
        if keys & v1.V1_COMMENT_KEYS:
            return "ytdlp"
    if text.startswith("{"):
        first_line = text.split("\n", 1)[0]
        try:
            first = orjson.loads(first_line)
        except orjson.JSONDecodeError:  # the stdlib's parser would recurse on nesting
            first = None
        if isinstance(first, dict) and first.keys() >= KEY_COLUMNS:
            return "jsonl"
        if isinstance(first, dict) and first.keys() >= nii.NII_KEYS:
            return "nii"
        if re.match(r'\{\s*"(meta|data|threads|globalComments)"', text):
            return "v1"
    if set(text.split("\n", 1)[0].rstrip("\r").split(",")) >= KEY_COLUMNS:
        return "csv"  # nico's CSV export: its header
    raise MalformedFile(
        f"not a comment file nico can read (format not recognised; try --format "
        f"{'/'.join(IMPORT_FORMATS)})"
    )


def write_file(
    target: Path, fmt: str, comments: Iterable[Comment], *, video_id: str, thread_counts: dict
) -> int:
    """Write ``comments`` in ``fmt`` to the file ``target``; return how many were written.

    A regular file (or a new one) is written beside itself and renamed over at the end, so a
    failure never leaves half a file; through a symbolic link, the file it points to is the one
    replaced and the link stays. Anything else (a device such as /dev/null, a FIFO, the pipe
    behind /dev/fd/63 in ``-o >(gzip > f.gz)``) is written directly: a rename would put a
    regular file in its place."""
    write = writer(fmt)
    try:
        mode = os.stat(target).st_mode  # of what a link points to
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise BadInput(f"{target} is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        try:
            with open(target, "wb") as stream:
                return write(comments, stream, video_id=video_id, thread_counts=thread_counts)
        except OSError as exc:
            raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
    final = Path(os.path.realpath(target))
    partial = final.with_name(final.name + ".part")
    try:
        with open(partial, "wb") as stream:
            written = write(comments, stream, video_id=video_id, thread_counts=thread_counts)
        os.replace(partial, final)
    except OSError as exc:
        raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return written


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
    """``comments`` with every user id replaced by `hash_user_id` (for sharing a dataset)."""
    cache: dict[str, str] = {}
    for comment in comments:
        user = comment.user_id
        if user is not None:
            hashed = cache.get(user)
            if hashed is None:
                hashed = cache[user] = hash_user_id(user, salt)
            comment = comment._replace(user_id=hashed)
        yield comment
