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
* A channel, `COLLECTION_CHANNEL_SLUG` (also `COLLECTION_CHANNEL_ID`): `CHANNEL_FREE` videos on
  its free list and `CHANNEL_PAY` on its paid one (``so4100000`` + i, posted weekly from 2023),
  each with a key-protected channel thread, an ordinary one and, every third, an owner thread;
  the one at `CHANNEL_MULTI_PAGE` has more than a page of comments; the paid one at
  `CHANNEL_MEMBERS_ONLY` is for channel members only (nobody is one). No tags: tag and search
  listings never show them (`add_channel`, `add_channel_later`). `EMPTY_CHANNEL_SLUG` has no
  video and no paid list.
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
COLLECTION_CHANNEL_SLUG = "nicocrawl"
COLLECTION_CHANNEL_ID = "ch2700001"
EMPTY_CHANNEL_SLUG = "nicocrawl-empty"  # no video, and no paid list (its page is a 404)
CHANNEL_OWNER_ID = "2700001"
CHANNEL_FIRST_NUMBER = 4_100_000
CHANNEL_FREE = 47  # three list pages of 20
CHANNEL_PAY = 5
CHANNEL_MULTI_PAGE = 5  # position (in posting order) of the video with > 1,000 comments
CHANNEL_MEMBERS_ONLY = CHANNEL_FREE + 2  # a paid video nobody may watch
CHANNEL_START = END  # channel videos are posted weekly from here
CHANNEL_LATER_EVERY = 4


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


# --- the channel ------------------------------------------------------------------------------


def channel_video_id_at(position: int) -> str:
    return f"so{CHANNEL_FIRST_NUMBER + position}"


def add_channel(world: w.World, *, seed: int) -> None:
    """The channel of the collection world: its videos and its two lists (newest first)."""
    rng = random.Random(seed * 7_919 + 0xC4A7)
    users = synth._Users(rng, 100)
    free, pay = [], []
    for i in range(CHANNEL_FREE + CHANNEL_PAY):
        posted = CHANNEL_START + i * 7 * 86400 + rng.randrange(86400)
        n = 1_200 if i == CHANNEL_MULTI_PAGE else rng.randrange(1, 40)
        access = "channel_member" if i == CHANNEL_MEMBERS_ONLY else None
        _add_channel_video(world, rng, users, i, posted, n, access)
        (free if i < CHANNEL_FREE else pay).append(channel_video_id_at(i))
    world.channels[COLLECTION_CHANNEL_SLUG] = w.Channel(
        COLLECTION_CHANNEL_SLUG,
        COLLECTION_CHANNEL_ID,
        "クロール検証チャンネル",
        tuple(reversed(free)),
        tuple(reversed(pay)),
    )
    world.channels[EMPTY_CHANNEL_SLUG] = w.Channel(
        EMPTY_CHANNEL_SLUG, "ch2700002", "動画のないチャンネル", (), None
    )


def add_channel_later(world: w.World, *, seed: int, at: int) -> list[str]:
    """The channel at ``at`` (Unix s): new comments on every `CHANNEL_LATER_EVERY`-th free
    video (the newest posted at ``at - 1``) and one new free video posted at ``at - 10``.
    Returns the ids of the videos that changed or are new."""
    rng = random.Random(seed * 7_919 + 0xC4A8)
    users = synth._Users(rng, 30)
    changed = []
    for i in range(1, CHANNEL_FREE, CHANNEL_LATER_EVERY):
        video = world.videos[channel_video_id_at(i)]
        thread = world.threads[(video.main_thread_id, "main")]
        _append(thread.comments, rng, users, rng.randrange(1, 6), at - 600, at - 1,
                video.duration_s)  # fmt: skip
        changed.append(video.video_id)
    i = CHANNEL_FREE + CHANNEL_PAY
    _add_channel_video(world, rng, users, i, at - 10, rng.randrange(1, 20), None, end=at - 1)
    channel = world.channels[COLLECTION_CHANNEL_SLUG]
    world.channels[COLLECTION_CHANNEL_SLUG] = w.Channel(
        channel.slug,
        channel.channel_id,
        channel.name,
        (channel_video_id_at(i), *channel.video_ids),
        channel.pay_video_ids,
    )
    return [*changed, channel_video_id_at(i)]


def _add_channel_video(world, rng, users, i, posted, n, access, *, end=None) -> None:
    """A channel video as the real ones are: the key-protected channel thread (184 forced) is
    ``thread_id``, the ordinary one (one less) ``optional_thread_id``, with the owner's."""
    video_id = channel_video_id_at(i)
    key_tid, default_tid = str(posted), str(posted - 1)
    duration = rng.randrange(60, 1500)
    window = w.retention_window(duration)
    end = end if end is not None else posted + 200 * 86400

    def table(tid: str, count: int, anonymous: float) -> w.CommentTable:
        return synth.synth_table(
            rng, thread_id=tid, fork="main", n=count, start=posted, end=end,
            duration_s=duration, window=window, users=users, anonymous_share=anonymous,
            burst_days=2.0, bursts=False,
        )  # fmt: skip

    threads = [
        w.Thread(key_tid, "main", "community", video_id, table(key_tid, n, 1.0),
                 needs_key=True, force_184=True),
        w.Thread(default_tid, "main", "default", video_id, table(default_tid, 1 + n // 4, 0.6)),
    ]  # fmt: skip
    if i % 3 == 0:
        owner = synth.owner_table(
            rng, thread_id=default_tid, n=4, posted_at=posted, duration_s=duration,
            uploader_id=CHANNEL_OWNER_ID,
        )  # fmt: skip
        threads.append(w.Thread(default_tid, "owner", "owner", video_id, owner))
    world.add(
        w.Video(
            video_id, f"クロールチャンネル 第{i + 1}話", duration, posted, "channel",
            CHANNEL_OWNER_ID, key_tid, tuple((t.thread_id, t.fork) for t in threads),
            optional_thread_id=default_tid, access=access,
        ),
        threads,
    )  # fmt: skip
