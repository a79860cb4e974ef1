"""Niconico Live programs of the emulator's world (live.md): the model and its seeding.

A program is its times, its timeshift rules and every message it will ever publish, sorted by
posting time; a message is published once the sandbox's clock passes its time. Times are
relative to an anchor (`World.live_anchor`, the moment the world was built unless a test fixes
it), so one world holds a program on air, programs ended days ago, and one that ends seconds
after the sandbox starts (for `nico live record`).

What the programs exercise: chats of every modifier, anonymous and named posters, premium and
not; overflowed chats; gifts, notifications and nicoads between the chats; gaps in ``no`` (the
broadcaster's filter removed those comments before they were published); a first message
some seconds after the begin time, as on real programs (vposBaseTime is the opening, so a walk
knows it reached the beginning only by reading the quiet slices down to the opening); backward
chains that end after a few batches (so a client must re-seed); and one long program.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# Programs (part of the contract: tests and `nico demo --live` use them).
LIVE_ON_AIR_ID = "lv1001"  # on air: began 30 minutes before the anchor, ends 30 minutes after
LIVE_ENDED_ID = "lv1002"  # ended two days ago; timeshift open to any logged-in viewer
LIVE_PREMIUM_ID = "lv1003"  # ended; timeshift for premium members only
LIVE_EXPIRED_ID = "lv1004"  # ended; its timeshift window has expired
LIVE_NO_TIMESHIFT_ID = "lv1005"  # ended; the broadcaster offered no timeshift
LIVE_LONG_ID = "lv1006"  # an 18-hour program of tens of thousands of comments, ended
LIVE_ENDING_ID = "lv1007"  # on air, ends 8 s after the anchor (to record to its end)

# Timeshift rules.
TIMESHIFT_NONE = "none"
TIMESHIFT_FREE = "free"  # any logged-in viewer may reserve it
TIMESHIFT_PREMIUM = "premium"  # premium members only

BACKWARD_BATCH = 100  # messages in one backward answer
WORDS = (
    "wwww", "88888888", "こんばんは", "きたー", "草", "かわいい", "うぽつ", "ｗｗｗ",
    "初見です", "おつ", "なるほど", "すごい", "？？？", "乙", "神回", "いいね",
)  # fmt: skip
NAMES = ("名無し", "コテハン", "常連", "見習い")
GIFT_ITEMS = (("nicoad-kaede", "楓"), ("gift-cake", "ケーキ"), ("gift-star", "星"))
NOTIFICATIONS = ("emotion", "visited", "ranking_in", "program_extended", "quote")


class LiveMessage(NamedTuple):
    """One message a program publishes: a chat (``kind`` 'chat' or 'overflowed_chat') or
    another NicoliveMessage member with its fields."""

    message_id: str
    at: int  # Unix seconds
    nanos: int
    kind: str  # chat | overflowed_chat | gift | simple_notification | nicoad
    no: int = 0  # chats
    vpos: int = 0  # chats: 1/100 s since vposBaseTime
    content: str = ""
    name: str | None = None
    premium: bool = False
    raw_user_id: int = 0  # 0: anonymous
    hashed_user_id: str | None = None
    # (position, size, colour, font, opacity); colour is a named colour's number or (r, g, b)
    modifier: tuple[int, int, Any, int, int] = (0, 0, 0, 0, 0)
    fields: tuple[tuple[str, Any], ...] = ()  # other members: their fields

    @property
    def moment(self) -> float:
        return self.at + self.nanos / 1e9


@dataclass(eq=False)
class LiveProgram:
    program_id: str
    title: str
    open_time: int
    begin_time: int
    vpos_base_time: int
    end_time: int  # when it ends (ended or scheduled)
    timeshift: str = TIMESHIFT_FREE
    timeshift_expires_at: int | None = None
    chain_batches: int = 1_000_000  # a backward chain ends after this many answers
    messages: list[LiveMessage] = field(default_factory=list)
    _moments: list[float] = field(default_factory=list, repr=False)

    def finish(self) -> None:
        self.messages.sort(key=lambda m: (m.moment, m.message_id))
        self._moments = [m.moment for m in self.messages]

    def status(self, now: float) -> str:
        if now < self.begin_time:
            return "RELEASED"
        return "ON_AIR" if now < self.end_time else "ENDED"

    def index_before(self, moment: float) -> int:
        """How many messages were posted before ``moment``."""
        return bisect.bisect_left(self._moments, moment)

    def published(self, now: float) -> list[LiveMessage]:
        return self.messages[: bisect.bisect_right(self._moments, now)]

    def between(self, start: float, end: float, now: float) -> list[LiveMessage]:
        """Messages posted in [start, end) and by ``now``."""
        low = bisect.bisect_left(self._moments, start)
        high = bisect.bisect_left(self._moments, min(end, now + 1e-9))
        return self.messages[low:high]


@dataclass(eq=False)
class LiveState:
    """What viewers did: timeshift reservations, and the audience tokens the watch pages handed
    out (token → program id and viewer)."""

    reservations: dict[tuple[str, str], bool] = field(default_factory=dict)  # → started
    tokens: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)  # view token → program id
    socket_messages: Counter = field(default_factory=Counter)  # type → received on the WebSocket
    lock: threading.Lock = field(default_factory=threading.Lock)


def add_live_programs(programs: dict[str, LiveProgram], *, seed: int, anchor: int) -> None:
    """Seed the programs, with their own random stream (the rest of the world keeps its bytes)."""
    rng = random.Random(f"live-{seed}")
    day = 86_400
    specs = (
        # id, title, open, begin, end, comments, timeshift, expires, chain batches
        (LIVE_ON_AIR_ID, "放送中の雑談", anchor - 1900, anchor - 1800, anchor + 1800, 3600,
         TIMESHIFT_FREE, None, 8),
        (LIVE_ENDED_ID, "終わった番組", anchor - 2 * day - 3700, anchor - 2 * day - 3600,
         anchor - 2 * day, 2500, TIMESHIFT_FREE, anchor + 5 * day, 6),
        (LIVE_PREMIUM_ID, "プレミアム限定タイムシフト", anchor - 3 * day - 1800,
         anchor - 3 * day - 1800, anchor - 3 * day, 600, TIMESHIFT_PREMIUM, anchor + 4 * day,
         1_000_000),
        (LIVE_EXPIRED_ID, "期限切れ", anchor - 30 * day - 1800, anchor - 30 * day - 1800,
         anchor - 30 * day, 400, TIMESHIFT_FREE, anchor - 9 * day, 1_000_000),
        (LIVE_NO_TIMESHIFT_ID, "タイムシフトなし", anchor - 4 * day - 1800,
         anchor - 4 * day - 1800, anchor - 4 * day, 300, TIMESHIFT_NONE, None, 1_000_000),
        (LIVE_LONG_ID, "18時間耐久", anchor - day - 18 * 3600 - 300, anchor - day - 18 * 3600,
         anchor - day, 40_000, TIMESHIFT_FREE, anchor + 20 * day, 40),
        (LIVE_ENDING_ID, "もうすぐ終わる", anchor - 120, anchor - 60, anchor + 8, 200,
         TIMESHIFT_FREE, anchor + 7 * day, 3),
    )  # fmt: skip
    for pid, title, opened, begun, ended, count, timeshift, expires, chain in specs:
        program = LiveProgram(
            program_id=pid,
            title=title,
            open_time=opened,
            begin_time=begun,
            vpos_base_time=opened,
            end_time=ended,
            timeshift=timeshift,
            timeshift_expires_at=expires,
            chain_batches=chain,
        )
        _fill(program, rng, count)
        programs[pid] = program


def _fill(program: LiveProgram, rng: random.Random, count: int) -> None:
    """``count`` messages spread from a little after the begin time to the end: mostly chats,
    some overflowed, a gift, notification or nicoad every so often; some numbers filtered
    away."""
    span = program.end_time - program.open_time
    # Nothing is posted at the very first moment: the first message comes 1–20 s after the
    # begin time, as on real programs, so no message proves the walk reached the beginning.
    first = program.begin_time - program.open_time + rng.uniform(1.0, 20.0)
    moments = [first, *sorted(rng.uniform(first, span - 0.001) for _ in range(count - 1))]
    no = 0
    for i, offset in enumerate(moments):
        whole = program.open_time + offset
        at, nanos = int(whole), int((whole - int(whole)) * 1e9) // 1000 * 1000
        message_id = _message_id(program.program_id, i)
        roll = rng.random()
        if roll < 0.03:
            kind = rng.choice(("gift", "simple_notification", "nicoad"))
            program.messages.append(
                LiveMessage(message_id, at, nanos, kind, fields=_event_fields(kind, rng))
            )
            continue
        no += 1
        if rng.random() < 0.03:
            no += rng.randint(1, 3)  # filtered before publication: never sent
        anonymous = rng.random() < 0.4
        raw_user_id = 0 if anonymous else rng.randint(1, 99_999_999)
        program.messages.append(
            LiveMessage(
                message_id,
                at,
                nanos,
                "overflowed_chat" if roll > 0.97 else "chat",
                no=no,
                vpos=int((whole - program.vpos_base_time) * 100),
                content=rng.choice(WORDS) + ("" if rng.random() < 0.7 else rng.choice(WORDS)),
                name=None if anonymous or rng.random() < 0.8 else rng.choice(NAMES),
                premium=rng.random() < 0.35,
                raw_user_id=raw_user_id,
                hashed_user_id=f"a:{rng.getrandbits(48):012x}" if anonymous else None,
                modifier=_modifier(rng),
            )
        )
    program.finish()


def _modifier(rng: random.Random) -> tuple[int, int, Any, int, int]:
    if rng.random() < 0.6:
        return (0, 0, 0, 0, 0)
    colour: Any = rng.randint(0, 19)
    if rng.random() < 0.15:
        colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
    return (
        rng.choice((0, 0, 1, 2)),
        rng.choice((0, 0, 1, 2)),
        colour,
        rng.choice((0, 0, 1, 2)),
        1 if rng.random() < 0.1 else 0,
    )


def _event_fields(kind: str, rng: random.Random) -> tuple[tuple[str, Any], ...]:
    if kind == "gift":
        item_id, item_name = rng.choice(GIFT_ITEMS)
        return (
            ("item_id", item_id),
            ("advertiser_user_id", rng.randint(1, 99_999_999)),
            ("advertiser_name", rng.choice(NAMES)),
            ("point", rng.choice((100, 300, 500, 1000))),
            ("message", rng.choice(WORDS)),
            ("item_name", item_name),
            ("contribution_rank", rng.randint(1, 10)),
        )
    if kind == "simple_notification":
        return ((rng.choice(NOTIFICATIONS), f"{rng.choice(NAMES)}さんが{rng.choice(WORDS)}"),)
    return ()  # nicoad: fields live.md does not describe, so none are sent


def _message_id(program_id: str, index: int) -> str:
    """An opaque id like the server's (base64-looking, unique per message)."""
    digest = hashlib.blake2b(f"{program_id}/{index}".encode(), digest_size=15).digest()
    return base64.urlsafe_b64encode(digest).decode()
