"""Protocol-neutral records shared by every layer (stdlib only).

Both protocols are parsed into these, the store writes them, and the emulator keeps its ground
truth in them, so a comment means the same thing everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import NamedTuple

FORKS = ("main", "owner", "easy")  # the forks every tool knows; servers may name others ("ai")
LIVE_FORK = "live"  # the fork of Niconico Live comments; their thread is the program id (lv…)
ALL_FORKS = (*FORKS, LIVE_FORK)
# A fork beyond those (the site adds some, such as "ai") is kept as named when it reads like
# every fork so far: a short lowercase word.
FORK_NAME = re.compile(r"[a-z][a-z0-9_]{0,7}")
FORK_BY_NUMBER = {0: "main", 1: "owner", 2: "easy"}
NUMBER_BY_FORK = {name: number for number, name in FORK_BY_NUMBER.items()}

# Japan Standard Time (no daylight saving since 1951): the site's own zone, and how dates that
# name no zone are read.
JST = timezone(timedelta(hours=9), "JST")

# The oldest moment a Niconico comment can carry (the site opened in December 2006; tools use
# 2007-03-03 as their floor). Walking back past this is pointless.
MIN_POSTED_AT = 1165503600  # 2006-12-08 00:00 JST


def is_fork_name(value: object) -> bool:
    """A fork nico stores: one of `FORKS`, or a name that reads like one (`FORK_NAME`)."""
    return isinstance(value, str) and (value in FORKS or FORK_NAME.fullmatch(value) is not None)


class Comment(NamedTuple):
    """One comment as the server reported it.

    A NamedTuple rather than a dataclass: a history can hold millions of these, and a tuple is
    both the cheapest record to build and what the database driver takes as a row.
    """

    thread_id: str
    fork: str  # 'main' | 'owner' | 'easy'
    no: int
    vpos_ms: int  # position in the video, milliseconds (legacy vpos is 1/100 s)
    posted_at: int  # Unix seconds, UTC
    content: str
    commands: str = ""  # the legacy `mail` string: space-separated commands
    date_usec: int | None = None
    user_id: str | None = None
    is_premium: bool = False
    is_anonymous: bool = False
    is_deleted: bool = False
    deleted_reason: int | None = None  # legacy `deleted` value (1 poster, 2 operator, …)
    score: int | None = None
    nicoru_count: int | None = None
    comment_id: str | None = None  # nvcomment `id`; None for legacy
    source: str | None = None  # nvcomment `source` ('trunk' | 'leaf')
    # Niconico Live only (None for videos): what a live comment carries beyond a video's.
    message_id: str | None = None  # the message server's message id (meta.id)
    is_overflowed: bool | None = None  # an overflowed chat (normally hidden by players)
    name: str | None = None  # the display name the comment carried


COMMENT_FIELDS = Comment._fields

# What a re-crawl can see change about a stored comment (`nico diff`, `analysis.diff_video`),
# in the order tables and JSON list them: new, deleted (or no longer served), served again
# after that, with another nicoru count, with another NG score.
CHANGE_KINDS = ("added", "deleted", "restored", "nicoru_changed", "score_changed")


@dataclass(frozen=True)
class ThreadRef:
    """A comment thread of a video, as the video's metadata names it."""

    thread_id: str
    fork: str
    label: str  # 'default', 'community', 'optional', 'owner', 'easy', …
    needs_key: bool = False


@dataclass(frozen=True)
class VideoInfo:
    video_id: str
    threads: tuple[ThreadRef, ...]
    title: str | None = None
    duration_s: int | None = None
    posted_at: int | None = None  # Unix seconds, when known
    viewer_is_premium: bool | None = None


@dataclass(frozen=True)
class ThreadStatus:
    """What the server said about a thread in one answer."""

    thread_id: str
    fork: str
    resultcode: int = 0
    last_res: int | None = None  # legacy: newest comment no
    comment_count: int | None = None  # nvcomment: commentCount
    server_time: int | None = None
    ticket: str | None = None
    revision: int | None = None
    global_num_res: int | None = None
    voltage_zone: str | None = None  # nvcomment: the answer's voltageZone, raw JSON


@dataclass(frozen=True)
class Page:
    """One answer for one thread: its status and its comments, de-duplicated, in server order."""

    thread: ThreadStatus
    comments: list[Comment]


def video_clock(seconds: float) -> str:
    """A moment of the video as ``m:ss`` (``83.4`` → ``1:23``); a moment before the start as
    ``-m:ss`` (``-5.2`` → ``-0:05``: owner scripts and odd players post there)."""
    whole = int(abs(seconds))
    return f"{'-' if seconds < 0 else ''}{whole // 60}:{whole % 60:02d}"
