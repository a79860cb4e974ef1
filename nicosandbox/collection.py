"""A collection world for `nico crawl`: one uploader's few hundred small videos, a mylist and a
series of them, tags and words to search for, and the same world "later" (new comments on some
videos, a few new videos), so that `--since-last` can be checked against ground truth.

Drawn from its own `random.Random`, so a seed always gives the same bytes; the "later" part
from yet another, so the earlier part is the same in both.

* `COLLECTION_USER_ID` uploads `size` videos (``sm9100000`` + i), posted 2012–2022, 1–60
  comments each; every tenth has an owner thread; `MULTI_PAGE` of them have 1,100–2,600
  comments (more than one past-log page); `DELETED` are deleted by their poster and one is
  private: nvapi user listings and Snapshot Search leave those out, the mylist shows them.
* `COLLECTION_MYLIST_ID`: the first `size - 10` videos (paged by 100); `COLLECTION_SERIES_ID`:
  all but the first ten (one answer).
* Every video is tagged `COLLECTION_TAG` (plus one of `OTHER_TAGS`) and its description holds
  `COLLECTION_WORD`; a third also carry `SMALL_TAG` (a tag with fewer hits).
"""

from __future__ import annotations

import random

from nicosandbox import synth
from nicosandbox import world as w

COLLECTION_USER_ID = "7000001"
COLLECTION_MYLIST_ID = "58000001"
COLLECTION_SERIES_ID = "420001"
COLLECTION_TAG = "クロール検証"
SMALL_TAG = "小さなタグ"
OTHER_TAGS = ("ゲーム", "VOCALOID", "料理", "音楽")
COLLECTION_WORD = "nicocrawl"
FIRST_NUMBER = 9_100_000
START = 1325343600  # 2012-01-01 JST
END = 1672498800  # 2023-01-01 JST
MULTI_PAGE = (7, 71, 150)  # positions of the videos with more than one page of comments
DELETED = (13, 57, 121, 188)  # positions of videos deleted by their poster
PRIVATE = (99,)
LATER_EVERY = 9  # in the later world every ninth video (from the fifth) gets new comments
LATER_NEW_VIDEOS = 3


def video_id_at(position: int) -> str:
    return f"sm{FIRST_NUMBER + position}"


def add_collection(world: w.World, *, seed: int, size: int = 220) -> None:
    rng = random.Random(seed * 7_919 + 0xC011)
    users = synth._Users(rng, 200)
    step = (END - START) // size
    mylist, series = [], []
    for i in range(size):
        posted = START + i * step + rng.randrange(step // 2)
        many = i in MULTI_PAGE
        n = rng.randrange(1_100, 2_600) if many else rng.randrange(1, 60)
        deleted = 1 if i in DELETED else 8 if i in PRIVATE else None
        _add_video(world, rng, users, i, posted, n, deleted, owner=i % 10 == 3)
        tags = [COLLECTION_TAG, OTHER_TAGS[i % len(OTHER_TAGS)]]
        if i % 3 == 0:
            tags.append(SMALL_TAG)
        world.tags[video_id_at(i)] = tuple(tags)
        if i < size - 10:
            mylist.append(video_id_at(i))
        if i >= 10:
            series.append(video_id_at(i))
    world.mylists[COLLECTION_MYLIST_ID] = w.Collection(
        COLLECTION_MYLIST_ID, COLLECTION_USER_ID, "クロール検証マイリスト", tuple(mylist)
    )
    world.series[COLLECTION_SERIES_ID] = w.Collection(
        COLLECTION_SERIES_ID, COLLECTION_USER_ID, "クロール検証シリーズ", tuple(series)
    )


def add_later(world: w.World, *, seed: int, at: int, size: int = 220) -> list[str]:
    """Turn ``world`` (as `add_collection` made it) into the same site at ``at`` (Unix s): new
    comments on every `LATER_EVERY`-th video (more than a page on the first multi-page one),
    the newest of each posted at ``at - 1``, and `LATER_NEW_VIDEOS` new uploads in every
    collection, posted in the last `LATER_NEW_VIDEOS` seconds before ``at``.
    Returns the ids of the videos that changed or are new."""
    rng = random.Random(seed * 7_919 + 0x1A7E)
    users = synth._Users(rng, 50)
    changed = []
    for i in range(4, size, LATER_EVERY):
        if i in DELETED or i in PRIVATE:
            continue
        video = world.videos[video_id_at(i)]
        thread = world.threads[(video.main_thread_id, "main")]
        n = 1_200 if i == next(p for p in MULTI_PAGE if p >= 4) else rng.randrange(1, 8)
        _append(thread.comments, rng, users, n, at - 600, at - 1, video.duration_s)
        changed.append(video.video_id)
    first = next(p for p in MULTI_PAGE if p >= 4)
    if video_id_at(first) not in changed:
        video = world.videos[video_id_at(first)]
        thread = world.threads[(video.main_thread_id, "main")]
        _append(thread.comments, rng, users, 1_200, at - 600, at - 1, video.duration_s)
        changed.append(video.video_id)
    collection = world.mylists[COLLECTION_MYLIST_ID]
    series = world.series[COLLECTION_SERIES_ID]
    new = []
    for k in range(LATER_NEW_VIDEOS):
        i = size + k
        _add_video(
            world,
            rng,
            users,
            i,
            at - 1 - LATER_NEW_VIDEOS + k,
            rng.randrange(1, 30),
            None,
            owner=False,
            end=at - 1,
        )
        world.tags[video_id_at(i)] = (COLLECTION_TAG, SMALL_TAG, OTHER_TAGS[0])
        new.append(video_id_at(i))
    world.mylists[COLLECTION_MYLIST_ID] = w.Collection(
        collection.collection_id,
        collection.owner_id,
        collection.name,
        collection.video_ids + tuple(new),
    )
    world.series[COLLECTION_SERIES_ID] = w.Collection(
        series.collection_id, series.owner_id, series.name, series.video_ids + tuple(new)
    )
    return changed + new


def _add_video(world, rng, users, i, posted, n, deleted, *, owner: bool, end=None) -> None:
    video_id = video_id_at(i)
    tid = str(posted)
    duration = rng.randrange(30, 600)
    window = w.retention_window(duration)
    main = synth.synth_table(
        rng,
        thread_id=tid,
        fork="main",
        n=n,
        start=posted,
        end=end if end is not None else posted + 400 * 86400,
        duration_s=duration,
        window=window,
        users=users,
        burst_days=2.0,
        bursts=False,
    )
    threads = [w.Thread(tid, "main", "default", video_id, main)]
    keys = [(tid, "main")]
    if owner:
        table = synth.owner_table(
            rng, thread_id=tid, n=5, posted_at=posted, duration_s=duration,
            uploader_id=COLLECTION_USER_ID,
        )  # fmt: skip
        threads.append(w.Thread(tid, "owner", "owner", video_id, table))
        keys.append((tid, "owner"))
    title = f"クロール検証動画 その{i + 1}"
    world.add(
        w.Video(
            video_id, title, duration, posted, "user", COLLECTION_USER_ID, tid, tuple(keys),
            deleted=deleted,
        ),
        threads,
    )  # fmt: skip


def _append(table: w.CommentTable, rng, users, n: int, start: int, end: int, duration: int):
    no = table.nos[-1] if len(table) else 0
    dates = [*sorted(rng.randrange(start, end) for _ in range(n - 1)), end]
    for k, posted in enumerate(dates):
        user = users.pick(rng.random(), rng.random())
        anonymous = rng.random() < 0.5
        table.append(
            no=no + k + 1,
            vpos_ms=rng.randrange(duration * 100) * 10,
            posted_at=max(posted, table.posted_at[-1] if len(table) else posted),
            date_usec=rng.randrange(1_000_000),
            content=synth.VOCABULARY[int(rng.random() * 17)],
            commands="184" if anonymous else "",
            user_id=users.hashed[user] if anonymous else users.numeric[user],
            is_premium=users.premium[user],
            is_anonymous=anonymous,
        )
