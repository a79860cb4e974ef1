"""Seeded synthetic threads: the big sm9 history, a channel video, short and deleted videos.

Everything comes from one `random.Random(seed)` drawn in a fixed order, so a seed always
yields the same world. Strings are drawn from small shared pools, so a million comments
cost pointers, not new strings.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right

from nicocomments.records import NUMBER_BY_FORK
from nicosandbox import world as w

UPLOAD_SM9 = 1173108780  # 2007-03-06 (sm9's thread id is its upload time)
END_OF_2023 = 1704034799  # 2023-12-31 23:59:59 JST
DATE_USEC_SINCE = 1475000000  # 2016-09: older real chats carry no date_usec
PAGE = w.MAX_WINDOW  # a past-log page: the newest 1000 at or before `when`
BURST_SIZES = (8, 40)

VOCABULARY = (
    "うぽつ",
    "うぽつ",
    "ｗｗｗ",
    "ｗｗｗｗｗｗ",
    "www",
    "wwwwww",
    "草",
    "草生える",
    "8888",
    "88888888",
    "ここすき",
    "ここすき",
    "初見",
    "初見です",
    "きたあああああ",
    "神回",
    "懐かしい",
    "おつ",
    "レッツゴー！",
    "陰陽師",
    "テラカオス",
    "すげえ",
    "かわいい",
    "え？",
    "弾幕薄いよ！何やってんの！",
    "ｷﾀ━━━━(ﾟ∀ﾟ)━━━━!!",
    "←",
    "↑",
    "2024年にも見てる人",
    "ニコニコ始まったな",
    "伝説の始まり",
    "tasukete",
    "GJ",
    "Tom & Jerry",
    "<script>alert(1)</script>",
    "\"引用\"と'引用'",
    "a < b && c > d",
    "改行\nテスト",
    "　∧＿∧\n（　´∀｀）\n（　　　）",
    "100% 本物",
    "&amp; ではない",
    "]]> 終わり",
    "日本語 English 中文",
    "絵文字😀",
    "・・・",
    "　",
    "ここで一時停止",
    "やったぜ。",
)
COMMANDS = (
    "",
    "",
    "",
    "",
    "",
    "",
    "red",
    "big",
    "ue",
    "shita",
    "small",
    "#ff0000",
    "device:3DS",
    "ue red big",
    "shita small",
    "naka medium",
    "white",
    "yellow big",
    "blue",
    "green shita",
    "device:Switch",
    "pink small",
    "ue #00ff00",
    "big red",
)
OWNER_LINES = (
    ("うp主です", "ue red big"),
    ("ようこそ", "ue"),
    ("※音量注意", "shita yellow"),
    ("レッツゴー！陰陽師", "big"),
    ("ここから本番", "@5 ue"),
    ("お楽しみください", "shita"),
    ("サビ", "red big"),
    ("ありがとうございました", "ue"),
    ("ここ重要", "@5"),
    ("字幕", "shita small"),
)
SCORES = (-300, -500, -1000, -1650, -3000, -4800, -10000)
HASH_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _hash_id(rng: random.Random) -> str:
    bits = rng.getrandbits(162)
    return "".join(HASH_ALPHABET[(bits >> (6 * k)) & 63] for k in range(27))


class _Users:
    """A pool of posters: a few flooders post a tenth of everything; the rest is skewed."""

    def __init__(self, rng: random.Random, size: int) -> None:
        self.numeric = [str(rng.randrange(1_000_000, 99_000_000)) for _ in range(size)]
        self.hashed = [_hash_id(rng) for _ in range(size)]
        self.premium = [rng.random() < 0.3 for _ in range(size)]
        self.flooders = min(20, max(1, size // 50))

    def pick(self, r: float, r2: float) -> int:
        if r < 0.10:
            return int(r2 * self.flooders)
        return self.flooders + int(r2 * r2 * (len(self.numeric) - self.flooders))


def _dates(
    rng: random.Random, n: int, start: int, end: int, *, burst_days: float, revivals: int
) -> list[float]:
    """Upload burst, long decay, occasional revivals, a thin background; sorted."""
    span = end - start
    centres = [start + rng.uniform(0.1, 0.95) * span for _ in range(revivals)]
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.35:
            t = start + rng.expovariate(1 / (burst_days * 86400))
        elif r < 0.75:
            t = start + math.exp(rng.uniform(math.log(3600), math.log(span)))
        elif r < 0.90 and centres:
            t = centres[int(rng.random() * len(centres))] + rng.expovariate(1 / (4 * 86400))
        else:
            t = rng.uniform(start, end)
        if not start <= t <= end:
            t = rng.uniform(start, end)
        out.append(t)
    out.sort()
    return out


def _burst(rng: random.Random, secs: list[int], usecs: list[int], centre: int) -> None:
    """Make 8–40 comments around `centre` (at least one on each side of it) share one second."""
    size = rng.randint(*BURST_SIZES)
    left = rng.randint(1, size - 2)
    lo = max(0, centre - left)
    hi = min(len(secs) - 1, lo + size - 1)
    second = secs[centre]
    for i in range(lo, hi + 1):
        secs[i] = second  # earlier ones only rise, later ones only fall: order is kept
    for i, usec in zip(
        range(lo, hi + 1),
        sorted(rng.randrange(1_000_000) for _ in range(hi - lo + 1)),
        strict=True,
    ):
        usecs[i] = usec


def _place_bursts(rng: random.Random, secs: list[int], usecs: list[int], window: int) -> None:
    n = len(secs)
    for _ in range(min(5, 1 + n // 2000) if n > 200 else 0):  # a few anywhere
        _burst(rng, secs, usecs, rng.randrange(1, n - 1))
    if n > window + 1:  # the edge of the no-`when` window
        _burst(rng, secs, usecs, n - window)
    # Walk back the way a correct pager does (newest 1000 at or before `when`, then `when` =
    # the page's oldest second) and straddle every page start with a same-second burst: a
    # client that steps to `oldest - 1` skips the part of the burst it has not seen yet.
    end = n
    while end - PAGE > 0:
        start = end - PAGE
        _burst(rng, secs, usecs, start)
        end = bisect_right(secs, secs[start])


def synth_table(
    rng: random.Random,
    *,
    thread_id: str,
    fork: str,
    n: int,
    start: int,
    end: int,
    duration_s: int,
    window: int,
    users: _Users,
    anonymous_share: float = 0.6,
    burst_days: float = 3.0,
    revivals: int = 0,
    bursts: bool = True,
) -> w.CommentTable:
    table = w.CommentTable(id_prefix=f"{1 + NUMBER_BY_FORK[fork]}{thread_id}", trunk_size=window)
    floats = _dates(rng, n, start, end, burst_days=burst_days, revivals=revivals)
    secs = [int(t) for t in floats]
    usecs = [int((t - s) * 1_000_000) for t, s in zip(floats, secs, strict=True)]
    if bursts and n > 1:
        _place_bursts(rng, secs, usecs, window)
    length_ms = duration_s * 1000
    highlights = [rng.uniform(0.05, 0.95) * length_ms for _ in range(4)]
    anonymous_cmds = {c: (f"184 {c}" if c else "184", f"{c} 184" if c else "184") for c in COMMANDS}
    random_ = rng.random
    for i in range(n):
        if random_() < 0.45:
            vpos = rng.gauss(highlights[int(random_() * 4)], 2500)
        else:
            vpos = random_() * length_ms
        vpos_ms = min(max(0, int(vpos) // 10 * 10), length_ms - 10)
        user = users.pick(random_(), random_())
        anonymous = random_() < anonymous_share
        base = COMMANDS[int(random_() * len(COMMANDS))]
        commands = anonymous_cmds[base][random_() < 0.3] if anonymous else base
        r = random_()
        deleted = (1 if r < 0.006 else 2) if r < 0.02 else None
        r = random_()
        score = SCORES[int(r / 0.06 * len(SCORES))] if r < 0.06 else 0
        r = random_()
        nicoru = 1 + int((r * 25) ** 2 * 30) if r < 0.04 else 0
        table.append(
            no=i + 1,
            vpos_ms=vpos_ms,
            posted_at=secs[i],
            date_usec=usecs[i] if secs[i] >= DATE_USEC_SINCE else None,
            content=VOCABULARY[int(random_() * len(VOCABULARY))],
            commands=commands,
            user_id=users.hashed[user] if anonymous else users.numeric[user],
            is_premium=users.premium[user],
            is_anonymous=anonymous,
            deleted_reason=deleted,
            score=score,
            nicoru_count=nicoru,
        )
    return table


def owner_table(
    rng: random.Random, *, thread_id: str, n: int, posted_at: int, duration_s: int, uploader_id: str
) -> w.CommentTable:
    table = w.CommentTable(id_prefix=f"2{thread_id}", trunk_size=n)
    for i in range(n):
        content, commands = OWNER_LINES[i % len(OWNER_LINES)]
        table.append(
            no=i + 1,
            vpos_ms=(i * duration_s * 1000 // n) // 10 * 10,
            posted_at=posted_at,
            date_usec=None,
            content=content,
            commands=commands,
            user_id=uploader_id,
            is_premium=True,
            is_anonymous=False,
        )
    return table


def _video(world: w.World, video: w.Video, *threads: w.Thread) -> None:
    world.add(video, threads)


def add_synthetic_videos(world: w.World, *, seed: int, big_comments: int) -> None:
    rng = random.Random(seed)
    users = _Users(rng, max(60, big_comments // 6))

    # 1. sm9: the big history.
    tid = w.BIG_THREAD_ID
    main = synth_table(
        rng,
        thread_id=tid,
        fork="main",
        n=big_comments,
        start=UPLOAD_SM9,
        end=END_OF_2023,
        duration_s=319,
        window=w.retention_window(319),
        users=users,
        burst_days=3.0,
        revivals=8,
    )
    owner = owner_table(
        rng, thread_id=tid, n=20, posted_at=UPLOAD_SM9, duration_s=319, uploader_id="4"
    )
    _video(
        world,
        w.Video(
            w.BIG_VIDEO_ID,
            "新・豪血寺一族 -煩悩解放 - レッツゴー！陰陽師",
            319,
            UPLOAD_SM9,
            "user",
            "4",
            tid,
            ((tid, "main"), (tid, "owner")),
        ),
        w.Thread(tid, "main", "default", w.BIG_VIDEO_ID, main),
        w.Thread(tid, "owner", "owner", w.BIG_VIDEO_ID, owner),
    )

    # 2. so23335421: channel video. Key-protected community thread (184 forced) + default + owner.
    posted, key_tid, default_tid = 1397552684, w.CHANNEL_THREAD_ID, w.CHANNEL_DEFAULT_THREAD_ID
    community = synth_table(
        rng,
        thread_id=key_tid,
        fork="main",
        n=3000,
        start=posted,
        end=1609426799,
        duration_s=1420,
        window=1000,
        users=users,
        anonymous_share=1.0,
        burst_days=2.0,
        revivals=3,
    )
    default = synth_table(
        rng,
        thread_id=default_tid,
        fork="main",
        n=800,
        start=posted,
        end=1609426799,
        duration_s=1420,
        window=1000,
        users=users,
        burst_days=2.0,
        revivals=2,
    )
    channel_owner = owner_table(
        rng, thread_id=default_tid, n=10, posted_at=posted, duration_s=1420, uploader_id="2000001"
    )
    _video(
        world,
        w.Video(
            w.CHANNEL_VIDEO_ID,
            "サンドボックス公式チャンネル 第1話",
            1420,
            posted,
            "channel",
            "2000001",
            key_tid,
            ((key_tid, "main"), (default_tid, "main"), (default_tid, "owner")),
            optional_thread_id=default_tid,
        ),
        w.Thread(
            key_tid,
            "main",
            "community",
            w.CHANNEL_VIDEO_ID,
            community,
            needs_key=True,
            force_184=True,
        ),
        w.Thread(default_tid, "main", "default", w.CHANNEL_VIDEO_ID, default),
        w.Thread(default_tid, "owner", "owner", w.CHANNEL_VIDEO_ID, channel_owner),
    )

    # 3.–5. Short, medium, deleted and private videos.
    for video_id, tid, duration, n, end, title, deleted in (
        (
            w.SHORT_VIDEO_ID,
            w.SHORT_THREAD_ID,
            45,
            400,
            int(w.SHORT_THREAD_ID) + 30 * 86400,
            "45秒の短い動画",
            None,
        ),
        (
            w.MEDIUM_VIDEO_ID,
            w.MEDIUM_THREAD_ID,
            240,
            1500,
            int(w.MEDIUM_THREAD_ID) + 3 * 365 * 86400,
            "4分の動画",
            None,
        ),
        (
            w.DELETED_VIDEO_ID,
            w.DELETED_THREAD_ID,
            95,
            12,
            int(w.DELETED_THREAD_ID) + 86400,
            "投稿者が削除した動画",
            1,
        ),
        (
            w.PRIVATE_VIDEO_ID,
            w.PRIVATE_THREAD_ID,
            95,
            12,
            int(w.PRIVATE_THREAD_ID) + 86400,
            "非公開の動画",
            8,
        ),
    ):
        table = synth_table(
            rng,
            thread_id=tid,
            fork="main",
            n=n,
            start=int(tid),
            end=end,
            duration_s=duration,
            window=w.retention_window(duration),
            users=users,
            burst_days=1.0 if n < 1000 else 10.0,
        )
        _video(
            world,
            w.Video(
                video_id,
                title,
                duration,
                int(tid),
                "user",
                "5000001",
                tid,
                ((tid, "main"),),
                deleted=deleted,
            ),
            w.Thread(tid, "main", "default", video_id, table),
        )
