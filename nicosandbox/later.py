"""`make_later`: an existing video as it is some time after a first crawl.

Comments change after they are collected: posters, owners and moderators delete some, viewers
nicoru others, the NG score moves, and the site adds forks (such as "ai"). `make_later`
changes a video of the world in place, seeded, and returns what it changed (`Later`): the
ground truth a re-crawl is checked against (`expected.expected_observations`).

Both protocols serve the change as they serve anything: the nvcomment server leaves the deleted
comments out (their numbers are skipped), the legacy message server lists them as
``<chat deleted="1"/>`` without text; both report the new nicoru counts and scores. The new
fork exists on the nvcomment side only (watch data names it among its targets; getflv never
named forks).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from nicosandbox import world as w

Key = tuple[str, str, int]  # thread_id, fork, no
State = tuple[int, int]  # nicoru_count, score

NEW_FORK_PHRASES = ("AIの要約です", "この場面の解説", "要点：", "見どころ")
SCORES = (-1000, -4800, -10000)  # the official filter's thresholds (protocol.md §3.4)


@dataclass(frozen=True)
class Later:
    """What `make_later` changed: each comment → its (nicoru_count, score) before and after,
    as the world holds them (ints; 0 is none). One change per comment."""

    video_id: str
    deleted: dict[Key, State] = field(default_factory=dict)  # the counts it had
    nicoru: dict[Key, tuple[State, State]] = field(default_factory=dict)
    score: dict[Key, tuple[State, State]] = field(default_factory=dict)
    added: tuple[Key, ...] = ()  # the new fork's comments
    new_fork: tuple[str, str] | None = None  # (thread_id, fork)


def make_later(
    world: w.World,
    video_id: str,
    *,
    seed: int = 1,
    deletions: int = 12,
    nicoru_changes: int = 20,
    score_changes: int = 8,
    new_fork: str | None = "ai",
    new_fork_comments: int = 15,
) -> Later:
    """Delete, nicoru and re-score comments of ``video_id``'s main and easy threads (picked
    among the comments not deleted yet, each picked once), and add ``new_fork`` (None: no new
    fork) with ``new_fork_comments`` comments posted after every other one."""
    rng = random.Random(seed * 7919 + 0x1A7E)
    video = world.videos[video_id]
    live: list[tuple[w.Thread, int]] = []
    for tid, fork in video.threads:
        if fork in ("main", "easy"):
            thread = world.threads[(tid, fork)]
            table = thread.comments
            live += [(thread, i) for i in range(len(table)) if not table.deleted[i]]
    wanted = deletions + nicoru_changes + score_changes
    if wanted > len(live):
        raise ValueError(f"{video_id} has only {len(live)} comments to change")
    picked = rng.sample(live, wanted)
    later = Later(video_id)
    for n, (thread, i) in enumerate(picked):
        table = thread.comments
        key = (thread.thread_id, thread.fork, table.nos[i])
        before = (table.nicoru[i], table.score[i])
        if n < deletions:
            later.deleted[key] = before
            table.deleted[i] = 1  # by its poster
        elif n < deletions + nicoru_changes:
            table.nicoru[i] += 1 + int(rng.random() * 9)
            later.nicoru[key] = (before, (table.nicoru[i], table.score[i]))
        else:
            table.score[i] = 0 if table.score[i] else SCORES[int(rng.random() * len(SCORES))]
            later.score[key] = (before, (table.nicoru[i], table.score[i]))
    if new_fork is None:
        return later
    return replace(later, **_add_fork(world, video, new_fork, new_fork_comments, rng))


def _add_fork(world: w.World, video: w.Video, fork: str, count: int, rng: random.Random) -> dict:
    tid = video.main_thread_id
    if (tid, fork) in world.threads:
        raise ValueError(f"{video.video_id} already has a {fork} fork")
    newest = max(
        world.threads[key].comments.posted_at[-1]
        for key in video.threads
        if len(world.threads[key].comments)
    )
    table = w.CommentTable(id_prefix=f"9{tid}", trunk_size=w.retention_window(video.duration_s))
    for no in range(1, count + 1):
        table.append(
            no=no,
            vpos_ms=int(rng.random() * (video.duration_s * 1000 - 10)) // 10 * 10,
            posted_at=newest + 60 * no,
            date_usec=None,
            content=NEW_FORK_PHRASES[int(rng.random() * len(NEW_FORK_PHRASES))],
            commands="",
            user_id="ai",
            is_premium=False,
            is_anonymous=False,
        )
    world.add(
        replace(video, threads=(*video.threads, (tid, fork))),
        [w.Thread(tid, fork, fork, video.video_id, table)],
    )
    return {
        "new_fork": (tid, fork),
        "added": tuple((tid, fork, no) for no in range(1, count + 1)),
    }
