"""The data added with today's protocol: sm9's easy fork and the videos watch data refuses.

Drawn from their own `random.Random`, after everything else, so the rest of the world keeps the
bytes it had before these were added.

* sm9 gets an easy fork (fork 2, label "easy") of `EASY_COMMENTS` comments: the short preset
  phrases of "かんたんコメント", most of them 184, posted from mid-2020 on. The legacy message
  server serves it as fork 2 too.
* Five small videos (12 comments each) that watch data refuses (see `watchdata.refusal`):
  deleted by the operator, deleted at a rights holder's request, channel members only,
  premium only and Japan only. The legacy side knows them like any other video (getflv
  reports ``deleted=2``/``deleted=3`` for the deleted ones; it never knew the other limits).
"""

from __future__ import annotations

import random
from dataclasses import replace

from nicocomments.records import NUMBER_BY_FORK
from nicosandbox import synth
from nicosandbox import world as w

EASY_COMMENTS = 300
EASY_SINCE = 1593529200  # 2020-07-01 JST: easy comments are a 2020s feature
EASY_PHRASES = (
    "うぽつ",
    "草",
    "ｗｗｗ",
    "888888",
    "かわいい",
    "すごい",
    "きたー！",
    "おつ",
    "好き",
    "なるほど",
    "えぇ…",
    "かっこいい",
    "懐かしい",
    "神",
    "！？",
)
EASY_COMMANDS = ("184", "184", "184", "184", "184 device:Switch", "", "small 184", "")
GATED_COMMENTS = 12


def add_nvcomment_data(world: w.World, *, seed: int) -> None:
    rng = random.Random(seed * 1_000_003 + 0xE5)
    _add_easy_fork(world, rng)
    _add_gated_videos(world, rng)


def _add_easy_fork(world: w.World, rng: random.Random) -> None:
    video = world.videos[w.BIG_VIDEO_ID]
    tid = video.main_thread_id
    table = w.CommentTable(
        id_prefix=f"{1 + NUMBER_BY_FORK['easy']}{tid}",
        trunk_size=w.retention_window(video.duration_s),
    )
    dates = sorted(rng.randrange(EASY_SINCE, synth.END_OF_2023) for _ in range(EASY_COMMENTS))
    users = [(synth._hash_id(rng), str(rng.randrange(1_000_000, 99_000_000))) for _ in range(80)]
    for i, posted_at in enumerate(dates):
        commands = EASY_COMMANDS[int(rng.random() * len(EASY_COMMANDS))]
        anonymous = "184" in commands.split()
        hashed, numeric = users[int(rng.random() ** 2 * len(users))]
        r = rng.random()
        table.append(
            no=i + 1,
            vpos_ms=int(rng.random() * (video.duration_s * 1000 - 10)) // 10 * 10,
            posted_at=posted_at,
            date_usec=rng.randrange(1_000_000),
            content=EASY_PHRASES[int(rng.random() * len(EASY_PHRASES))],
            commands=commands,
            user_id=hashed if anonymous else numeric,
            is_premium=rng.random() < 0.3,
            is_anonymous=anonymous,
            deleted_reason=(1 if r < 0.01 else 2) if r < 0.03 else None,
            score=-1000 if rng.random() < 0.02 else 0,
            nicoru_count=1 + int(rng.random() * 5) if rng.random() < 0.05 else 0,
        )
    world.add(
        replace(video, threads=(*video.threads, (tid, "easy"))),
        [w.Thread(tid, "easy", "easy", w.BIG_VIDEO_ID, table)],
    )


def _add_gated_videos(world: w.World, rng: random.Random) -> None:
    users = synth._Users(rng, 60)
    for video_id, tid, title, kind, deleted, access in (
        (
            w.OPERATOR_DELETED_VIDEO_ID,
            w.OPERATOR_DELETED_THREAD_ID,
            "運営が削除した動画",
            "user",
            2,
            None,
        ),
        (
            w.RIGHTS_DELETED_VIDEO_ID,
            w.RIGHTS_DELETED_THREAD_ID,
            "権利者の申し立てで削除された動画",
            "user",
            3,
            None,
        ),
        (
            w.MEMBERS_ONLY_VIDEO_ID,
            w.MEMBERS_ONLY_THREAD_ID,
            "チャンネル会員限定の動画",
            "channel",
            None,
            "channel_member",
        ),
        (
            w.PREMIUM_ONLY_VIDEO_ID,
            w.PREMIUM_ONLY_THREAD_ID,
            "プレミアム会員限定の動画",
            "user",
            None,
            "premium",
        ),
        (w.DOMESTIC_VIDEO_ID, w.DOMESTIC_THREAD_ID, "国内限定の動画", "user", None, "domestic"),
    ):
        table = synth.synth_table(
            rng,
            thread_id=tid,
            fork="main",
            n=GATED_COMMENTS,
            start=int(tid),
            end=int(tid) + 86400,
            duration_s=95,
            window=w.retention_window(95),
            users=users,
            burst_days=1.0,
        )
        world.add(
            w.Video(
                video_id,
                title,
                95,
                int(tid),
                kind,
                "5000001",
                tid,
                ((tid, "main"),),
                deleted=deleted,
                access=access,
            ),
            [w.Thread(tid, "main", "default", video_id, table)],
        )
