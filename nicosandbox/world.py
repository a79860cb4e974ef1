"""The emulator's world: the model every surface serves a view of (no HTTP here).

The model is protocol-neutral: videos, threads keyed by ``(thread_id, fork)`` and, per thread,
comments sorted by ``no`` with non-decreasing ``posted_at``. The legacy message server and the
nvcomment server serve views of the same data; `seed.build_world` fills it, and
`expected.expected_comments` says what a perfect client must end up with.

Comments are stored column-wise (`CommentTable`): a million-comment thread then costs tens of
megabytes, and the server can `bisect` the dates column instead of scanning.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from nicocomments.records import NUMBER_BY_FORK
from nicosandbox.liveworld import LiveProgram

# Accounts. The passwords are public test values: the emulator only ever runs on loopback.
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
DEMO_USER_ID = "100001"  # premium, no two-factor
MFA_EMAIL = "mfa@example.com"
MFA_PASSWORD = "mfa-password"
MFA_CODE = "123456"
MFA_USER_ID = "100002"  # not premium, two-factor

# Videos and their threads (part of the contract: tests and `nico demo` use them).
BIG_VIDEO_ID = "sm9"
BIG_THREAD_ID = "1173108780"  # main (no key) and owner
CHANNEL_VIDEO_ID = "so23335421"
CHANNEL_THREAD_ID = "1397552685"  # key-protected "community" thread, 184 forced; getflv thread_id
CHANNEL_DEFAULT_THREAD_ID = "1397552684"  # ordinary "default" thread + owner; optional_thread_id
SHORT_VIDEO_ID = "sm500000"  # 45 s: window 100
SHORT_THREAD_ID = "1184000000"
MEDIUM_VIDEO_ID = "sm600000"  # 240 s: window 250
MEDIUM_THREAD_ID = "1186000000"
DELETED_VIDEO_ID = "sm8000001"  # deleted by the poster (getflv deleted=1)
DELETED_THREAD_ID = "1250000001"
PRIVATE_VIDEO_ID = "sm8000008"  # private (getflv deleted=8)
PRIVATE_THREAD_ID = "1250000008"
OPERATOR_DELETED_VIDEO_ID = "sm8000002"  # deleted by the operator (getflv deleted=2)
OPERATOR_DELETED_THREAD_ID = "1250000002"
RIGHTS_DELETED_VIDEO_ID = "sm8000003"  # deleted at the rights holder's request (deleted=3)
RIGHTS_DELETED_THREAD_ID = "1250000003"
MEMBERS_ONLY_VIDEO_ID = "so8000100"  # channel members only (no account is a member)
MEMBERS_ONLY_THREAD_ID = "1250000100"
PREMIUM_ONLY_VIDEO_ID = "sm8000200"  # premium members only (the demo account is premium)
PREMIUM_ONLY_THREAD_ID = "1250000200"
DOMESTIC_VIDEO_ID = "sm8000300"  # viewable from Japan only (the emulator's viewers are abroad)
DOMESTIC_THREAD_ID = "1250000300"
REAL_NM_VIDEO_ID = "nm14999484"  # real owner + main threads (xpadev-net/niwango.js)
REAL_NM_THREAD_ID = "1310476906"
REAL_OLD_VIDEO_ID = "sm3000001"  # real chats (tanbatu/comment-zouryou @ e76d29c)
REAL_OLD_THREAD_ID = "1428845905"
REAL_NEW_VIDEO_ID = "sm3000002"  # real chats (tanbatu/comment-zouryou @ 60fec26)
REAL_NEW_THREAD_ID = "1512298011"

# The legacy retention rule: without `when`, a main/easy thread shows only its newest W comments,
# W by video length (protocol.md §1.4). Past-log requests see up to 1000 per answer.
RETENTION_WINDOWS = ((60, 100), (300, 250), (600, 500))
MAX_WINDOW = 1000

_FLAG_PREMIUM = 1
_FLAG_ANONYMOUS = 2


class TruthComment(NamedTuple):
    """One comment as the world knows it (a superset of what either protocol shows)."""

    no: int
    vpos_ms: int
    posted_at: int
    date_usec: int | None
    content: str
    commands: str  # space-separated, the legacy `mail`
    user_id: str  # hashed for 184 comments, numeric otherwise (the uploader's on owner comments)
    is_premium: bool
    is_anonymous: bool
    deleted_reason: int | None
    score: int  # 0 or negative
    nicoru_count: int
    comment_id: str
    source: str  # 'trunk' | 'leaf' (nvcomment)


class CommentTable(Sequence[TruthComment]):
    """The comments of one thread, column-wise, sorted by ``no`` with non-decreasing dates.

    Indexing builds a `TruthComment` on the fly; servers read the columns directly.
    """

    def __init__(self, *, id_prefix: str, trunk_size: int) -> None:
        self.nos = array("q")
        self.vpos_ms = array("q")
        self.posted_at = array("q")  # the `bisect` key for `when`
        self.date_usec = array("l")  # -1 = unknown
        self.content: list[str] = []
        self.commands: list[str] = []
        self.user_id: list[str] = []
        self.flags = array("B")
        self.deleted = array("B")  # 0 = not deleted
        self.score = array("l")
        self.nicoru = array("l")
        self.comment_ids: list[str] | None = None  # None: derived from id_prefix and no
        self.sources: list[str] | None = None  # None: derived from trunk_size
        self.id_prefix = id_prefix
        self.trunk_size = trunk_size
        self._minutes: dict[int, array] | None = None
        self._lock = threading.Lock()

    def append(
        self,
        *,
        no: int,
        vpos_ms: int,
        posted_at: int,
        date_usec: int | None,
        content: str,
        commands: str,
        user_id: str,
        is_premium: bool,
        is_anonymous: bool,
        deleted_reason: int | None = None,
        score: int = 0,
        nicoru_count: int = 0,
        comment_id: str | None = None,
        source: str | None = None,
    ) -> None:
        if self.nos and (no <= self.nos[-1] or posted_at < self.posted_at[-1]):
            raise ValueError(f"comment {no} breaks the no/date order")
        self.nos.append(no)
        self.vpos_ms.append(vpos_ms)
        self.posted_at.append(posted_at)
        self.date_usec.append(-1 if date_usec is None else date_usec)
        self.content.append(content)
        self.commands.append(commands)
        self.user_id.append(user_id)
        self.flags.append(
            (_FLAG_PREMIUM if is_premium else 0) | (_FLAG_ANONYMOUS if is_anonymous else 0)
        )
        self.deleted.append(deleted_reason or 0)
        self.score.append(score)
        self.nicoru.append(nicoru_count)
        if comment_id is not None:
            if self.comment_ids is None:
                self.comment_ids = [self.comment_id(i) for i in range(len(self.nos) - 1)]
            self.comment_ids.append(comment_id)
        elif self.comment_ids is not None:
            self.comment_ids.append(self.id_prefix + f"{no:07d}")
        if source is not None:
            if self.sources is None:
                self.sources = [self.source(i) for i in range(len(self.nos) - 1)]
            self.sources.append(source)
        elif self.sources is not None:
            self.sources.append("trunk")

    def __len__(self) -> int:
        return len(self.nos)

    def __iter__(self) -> Iterator[TruthComment]:
        return (self[i] for i in range(len(self.nos)))

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self.nos)))]
        i = range(len(self.nos))[index]
        usec = self.date_usec[i]
        flags = self.flags[i]
        return TruthComment(
            self.nos[i],
            self.vpos_ms[i],
            self.posted_at[i],
            None if usec < 0 else usec,
            self.content[i],
            self.commands[i],
            self.user_id[i],
            bool(flags & _FLAG_PREMIUM),
            bool(flags & _FLAG_ANONYMOUS),
            self.deleted[i] or None,
            self.score[i],
            self.nicoru[i],
            self.comment_id(i),
            self.source(i),
        )

    def comment_id(self, i: int) -> str:
        if self.comment_ids is not None:
            return self.comment_ids[i]
        return self.id_prefix + f"{self.nos[i]:07d}"

    def source(self, i: int) -> str:
        if self.sources is not None:
            return self.sources[i]
        return "trunk" if i >= len(self.nos) - self.trunk_size else "leaf"

    def is_premium(self, i: int) -> bool:
        return bool(self.flags[i] & _FLAG_PREMIUM)

    def is_anonymous(self, i: int) -> bool:
        return bool(self.flags[i] & _FLAG_ANONYMOUS)

    def minute_index(self) -> dict[int, array]:
        """Positions of the comments of each minute of the video (by vpos), ascending.

        Built once, on first use: the per-minute ("leaf") requests of both protocols need it.
        """
        with self._lock:
            if self._minutes is None:
                minutes: dict[int, array] = {}
                for i, vpos in enumerate(self.vpos_ms):
                    minute = max(0, vpos // 60_000)
                    bucket = minutes.get(minute)
                    if bucket is None:
                        bucket = minutes[minute] = array("q")
                    bucket.append(i)
                self._minutes = minutes
            return self._minutes


@dataclass(eq=False)
class Thread:
    thread_id: str
    fork: str  # 'main' | 'owner' | 'easy'
    label: str  # 'default' | 'community' | 'owner' | 'easy'
    video_id: str
    comments: CommentTable
    needs_key: bool = False
    force_184: bool = False

    @property
    def fork_number(self) -> int | str:
        """The legacy fork number; a fork that has none (a newer one, such as "ai") by name."""
        return NUMBER_BY_FORK.get(self.fork, self.fork)


@dataclass(frozen=True)
class Video:
    video_id: str
    title: str
    duration_s: int
    posted_at: int
    kind: str  # 'user' | 'channel'
    uploader_id: str
    main_thread_id: str  # getflv thread_id (the key-protected one on channel videos)
    threads: tuple[tuple[str, str], ...]  # (thread_id, fork) of every non-empty thread
    optional_thread_id: str | None = None
    deleted: int | None = None  # getflv `deleted`: 1 poster, 2 operator, 3 rights holder, 8 private
    access: str | None = None  # watch data only: 'channel_member' | 'premium' | 'domestic'

    @property
    def thread_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(tid for tid, _ in self.threads))

    @property
    def needs_key(self) -> bool:
        return self.optional_thread_id is not None


@dataclass(frozen=True)
class Collection:
    """A mylist or a series: its owner, name and videos in order."""

    collection_id: str
    owner_id: str
    name: str
    video_ids: tuple[str, ...]
    public: bool = True


@dataclass(frozen=True)
class Channel:
    """A channel (ch.nicovideo.jp): its free and paid video lists, newest first (``None``: it
    has no paid list at all). Its pages answer under its ``slug`` and its ``channel_id``
    (``ch…``) alike."""

    slug: str
    channel_id: str
    name: str
    video_ids: tuple[str, ...]
    pay_video_ids: tuple[str, ...] | None = ()


class Account(NamedTuple):
    user_id: str
    email: str
    password: str
    nickname: str
    is_premium: bool
    mfa_code: str | None = None


def retention_window(duration_s: int) -> int:
    """How many of the newest comments a main/easy thread shows without `when`."""
    for limit, window in RETENTION_WINDOWS:
        if duration_s < limit:
            return window
    return MAX_WINDOW


@dataclass(eq=False)
class World:
    seed: int
    videos: dict[str, Video] = field(default_factory=dict)
    threads: dict[tuple[str, str], Thread] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)  # by e-mail
    # Collections (nvapi listings, Snapshot Search): see `collection.py`.
    mylists: dict[str, Collection] = field(default_factory=dict)
    series: dict[str, Collection] = field(default_factory=dict)
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)  # video id → its tags
    channels: dict[str, Channel] = field(default_factory=dict)  # by slug
    live_programs: dict[str, LiveProgram] = field(default_factory=dict)  # by lv… id
    live_anchor: int = 0  # the moment live programs' times are relative to (Unix seconds)
    _video_by_thread: dict[str, Video] = field(default_factory=dict, repr=False)

    def add(self, video: Video, threads: Sequence[Thread]) -> None:
        self.videos[video.video_id] = video
        for thread_id in video.thread_ids:
            self._video_by_thread[thread_id] = video
        for thread in threads:
            self.threads[(thread.thread_id, thread.fork)] = thread

    def uploads(self, user_id: str) -> list[Video]:
        """A user's videos, newest first (as nvapi lists them)."""
        mine = [v for v in self.videos.values() if v.uploader_id == user_id and v.kind == "user"]
        return sorted(mine, key=lambda v: (-v.posted_at, v.video_id))

    def channel(self, name: str) -> Channel | None:
        """A channel by its slug or its ``ch…`` id."""
        if name in self.channels:
            return self.channels[name]
        return next((c for c in self.channels.values() if c.channel_id == name), None)

    def last_comment_at(self, video_id: str) -> int | None:
        """The date of the video's newest comment (any thread, deleted ones too)."""
        dates = [
            self.threads[key].comments.posted_at[-1]
            for key in self.videos[video_id].threads
            if key[1] != "owner" and len(self.threads[key].comments)
        ]
        return max(dates) if dates else None

    def comment_count(self, video_id: str) -> int:
        """What listings show as ``count.comment``: the non-deleted comments of its threads."""
        total = 0
        for key in self.videos[video_id].threads:
            table = self.threads[key].comments
            total += len(table) - sum(1 for d in table.deleted if d)
        return total

    def thread(self, thread_id: str, fork: str = "main") -> Thread | None:
        return self.threads.get((str(thread_id), fork))

    def video_for_thread(self, thread_id: str) -> Video | None:
        return self._video_by_thread.get(str(thread_id))

    def account_by_id(self, user_id: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.user_id == user_id), None)

    def window(self, thread: Thread) -> int | None:
        """The retention window of a thread, or None when it has none (owner threads)."""
        if thread.fork == "owner":
            return None
        return retention_window(self.videos[thread.video_id].duration_s)

    def nvcomment_targets(self, video_id: str) -> list[tuple[str, str]]:
        """``(thread_id, fork)`` of ``nvComment.params.targets``, in the watch data's order.

        Ordinary videos: owner, main and (when the world has one) easy on their one thread.
        Channel videos: owner and main on the ordinary thread, then main on the key-protected
        one (last, where Niconicome looks for the default thread, protocol.md §3.2).
        """
        video = self.videos[video_id]
        if video.optional_thread_id is not None:
            default, keyed = video.optional_thread_id, video.main_thread_id
            targets = [(default, "owner"), (default, "main"), (keyed, "main")]
            if (keyed, "easy") in self.threads:
                targets.append((keyed, "easy"))
            return targets + self._new_forks(video, keyed)
        tid = video.main_thread_id
        targets = [(tid, "owner"), (tid, "main")]
        if (tid, "easy") in self.threads:
            targets.append((tid, "easy"))
        return targets + self._new_forks(video, tid)

    def _new_forks(self, video: Video, tid: str) -> list[tuple[str, str]]:
        """Forks beyond owner/main/easy (`later.make_later` adds one, "ai"): last."""
        return [(t, f) for t, f in video.threads if t == tid and f not in NUMBER_BY_FORK]
