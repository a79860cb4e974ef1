"""The NII research dataset ("ニコニコ動画コメント等データ"): JSON Lines, one comment a line,
one file per video. Read only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from nicocomments.chats import int_or_none, scalar_text, unix_seconds
from nicocomments.formats.common import Item, MalformedFile, SyntheticNumbers, json_lines
from nicocomments.records import JST, Comment

#: The keys every NII line has (how `formats.sniff_format` knows it).
NII_KEYS = frozenset({"date", "vpos"})


def read_nii(stream: IO[bytes], video_id: str) -> Iterator[Item]:
    """One video of the NII "ニコニコ動画コメント等データ" set: JSON Lines, one comment a line.

    2012 release (``.dat``): ``date`` (Unix s), ``no``, ``vpos`` (1/100 s), ``comment``,
    ``command``. 2016/2018/2021 (``.jsonl``): ``date`` (Unix s, or an ISO string; Japan time
    without a zone), ``content``, ``command``, ``vpos`` and, later, ``owner``/``easy`` flags.
    Comments go to thread ``nii:<video id>``; lines without ``no`` are numbered -1, -2, … per fork.
    User ids are not in the dataset."""
    thread_id = f"nii:{video_id}"
    numbers = SyntheticNumbers()
    for line_number, raw in json_lines(stream):
        yield _nii_comment(raw, thread_id, numbers, line_number)


def _nii_comment(raw: dict, thread_id: str, numbers: SyntheticNumbers, line: int) -> Comment:
    fork = "owner" if raw.get("owner") else "easy" if raw.get("easy") else "main"
    try:
        posted_at = _nii_date(raw["date"])
        vpos = int(raw.get("vpos") or 0)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise MalformedFile(f"line {line} has no valid date or vpos") from None
    no = int_or_none(raw.get("no"))
    if no is None or no <= 0:
        no = numbers.next(thread_id, fork)
    command = raw.get("command")
    try:
        if isinstance(command, list):
            commands = " ".join(scalar_text(c) for c in command)
        else:
            commands = scalar_text(command)
        text = scalar_text(raw.get("content", raw.get("comment")))
    except ValueError:
        raise MalformedFile(f"line {line} has a content or command that is not text") from None
    # Positional, like the network parsers: a dataset file is millions of lines.
    return _new_comment(
        Comment,
        (
            thread_id,
            fork,
            no,
            vpos * 10,
            posted_at,
            text,
            commands,
            None,
            None,
            False,
            "184" in commands.split(),
            False,
            None,
            None,
            None,
            None,
            None,
        ),
    )


_new_comment = tuple.__new__


def _nii_date(value: Any) -> int:
    """``date``: Unix seconds (a number, or a string of one) or an ISO string, which names its
    zone (``Z``, ``+09:00``, `` UTC``) or is Japan time."""
    if isinstance(value, str):
        value = value.strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", value):
            return int(float(value))
        value = value.replace(" UTC", "+00:00")
    return unix_seconds(value, JST)
