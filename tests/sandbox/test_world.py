"""The emulator's world: seeded, deterministic, and what a perfect client stores (no HTTP)."""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections import Counter

import pytest

from nicocomments.records import Comment
from nicosandbox import (
    BIG_THREAD_ID,
    BIG_VIDEO_ID,
    CHANNEL_DEFAULT_THREAD_ID,
    CHANNEL_THREAD_ID,
    CHANNEL_VIDEO_ID,
    DEMO_EMAIL,
    MEDIUM_THREAD_ID,
    MFA_CODE,
    MFA_EMAIL,
    REAL_NM_THREAD_ID,
    REAL_NM_VIDEO_ID,
    SHORT_THREAD_ID,
    Sandbox,
    build_world,
    describe_world,
    expected_comments,
)
from tests.sandbox.helpers import (
    chats_of,
    key,
    login,
    parse,
    post_packet,
    thread_xml,
    v1_ok,
    watch_data,
)


def _digest(w) -> str:
    h = hashlib.sha256()
    for key_, thread in sorted(w.threads.items()):
        h.update(repr((key_, thread.label, thread.needs_key, thread.force_184)).encode())
        for comment in thread.comments:
            h.update(repr(comment).encode())
    h.update(repr(sorted(w.videos.items())).encode())
    return h.hexdigest()


def test_world_is_deterministic(world):
    assert _digest(build_world(0)) == _digest(world)
    assert _digest(build_world(1)) != _digest(world)


def test_world_contents(world):
    counts = {key_: len(t.comments) for key_, t in world.threads.items()}
    assert counts[(BIG_THREAD_ID, "main")] == 30_000
    assert counts[(BIG_THREAD_ID, "owner")] == 20
    assert counts[(CHANNEL_THREAD_ID, "main")] == 3000
    assert counts[(CHANNEL_DEFAULT_THREAD_ID, "main")] == 800
    assert counts[(CHANNEL_DEFAULT_THREAD_ID, "owner")] == 10
    assert counts[(SHORT_THREAD_ID, "main")] == 400
    assert (SHORT_THREAD_ID, "owner") not in counts
    assert counts[(MEDIUM_THREAD_ID, "main")] == 1500
    assert counts[(REAL_NM_THREAD_ID, "main")] == 339
    assert counts[(REAL_NM_THREAD_ID, "owner")] == 802
    assert counts[("1428845905", "main")] == 6972  # 25 repeated nos dropped
    assert counts[("1512298011", "main")] == 819
    assert world.thread(CHANNEL_THREAD_ID).needs_key and world.thread(CHANNEL_THREAD_ID).force_184
    assert world.thread(CHANNEL_THREAD_ID).label == "community"
    assert world.videos["sm9"].duration_s == 319 and world.videos["sm9"].posted_at == 1173108780
    assert world.videos["sm8000001"].deleted == 1 and world.videos["sm8000008"].deleted == 8
    assert world.videos["sm8000002"].deleted == 2 and world.videos["sm8000003"].deleted == 3
    assert [world.videos[v].access for v in ("so8000100", "sm8000200", "sm8000300")] == [
        "channel_member",
        "premium",
        "domestic",
    ]
    easy = world.thread(BIG_THREAD_ID, "easy")
    assert counts[(BIG_THREAD_ID, "easy")] == 300 and easy.label == "easy"
    assert world.videos["sm9"].threads == (
        (BIG_THREAD_ID, "main"),
        (BIG_THREAD_ID, "owner"),
        (BIG_THREAD_ID, "easy"),
    )
    assert all(c.is_anonymous == ("184" in c.commands.split()) for c in easy.comments)
    assert 0.5 < sum(c.is_anonymous for c in easy.comments) / 300 < 0.9
    assert all(len(c.content) <= 8 and c.posted_at >= 1593529200 for c in easy.comments)

    ids = []
    for thread in world.threads.values():
        t = thread.comments
        assert all(a < b for a, b in zip(t.nos, t.nos[1:], strict=False))
        assert all(a <= b for a, b in zip(t.posted_at, t.posted_at[1:], strict=False))
        assert all(v % 10 == 0 for v in t.vpos_ms)
        ids.extend(t.comment_id(i) for i in range(len(t)))
    assert len(ids) == len(set(ids))

    big = list(world.thread(BIG_THREAD_ID).comments)
    assert [c.no for c in big] == list(range(1, 30_001))
    assert big[0].posted_at >= 1173108780 and big[-1].posted_at <= 1704034799
    assert 0.015 < sum(c.deleted_reason is not None for c in big) / len(big) < 0.03
    assert {c.deleted_reason for c in big} == {None, 1, 2}
    assert 0.55 < sum(c.is_anonymous for c in big) / len(big) < 0.65
    assert all(c.is_anonymous == ("184" in c.commands.split()) for c in big)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{27}", c.user_id) for c in big if c.is_anonymous)
    assert all(c.user_id.isdigit() for c in big if not c.is_anonymous)
    assert Counter(c.user_id for c in big).most_common(1)[0][1] > 100  # flooders
    assert all(re.fullmatch(r"\d{18}", c.comment_id) for c in big)
    community = world.thread(CHANNEL_THREAD_ID).comments
    assert all(c.is_anonymous and "184" in c.commands.split() for c in community)
    owner = list(world.thread(BIG_THREAD_ID, "owner").comments)
    assert all(c.user_id == "4" and c.posted_at == 1173108780 for c in owner)
    assert {"ue red big", "shita", "@5"} <= {c.commands for c in owner}


def test_bursts_straddle_every_past_log_page(world):
    dates = world.thread(BIG_THREAD_ID).comments.posted_at
    end, pages = len(dates), 0
    while end - 1000 > 0:
        start = end - 1000
        run_lo = start
        while run_lo > 0 and dates[run_lo - 1] == dates[start]:
            run_lo -= 1
        run_hi = bisect_right(dates, dates[start])
        assert run_lo < start and run_hi > start + 1, f"page start {start} is not inside a burst"
        assert run_hi - run_lo >= 8
        end, pages = run_hi, pages + 1
    assert pages >= 29
    runs = Counter(dates)
    assert sum(1 for n in runs.values() if n >= 8) >= pages + 1  # and a few elsewhere


def test_expected_comments_mapping(world):
    expected = expected_comments(world, "sm9")
    assert len(expected) == 30_020
    assert all(isinstance(c, Comment) for c in expected)
    owner = [c for c in expected if c.fork == "owner"]
    assert len(owner) == 20 and all(c.user_id is None for c in owner)
    truth = {c.no: c for c in world.thread(BIG_THREAD_ID).comments}
    for c in expected:
        assert c.thread_id == BIG_THREAD_ID and c.comment_id is None and c.source is None
        if c.fork != "main":
            continue
        t = truth[c.no]
        assert c.vpos_ms == t.vpos_ms and c.posted_at == t.posted_at
        assert c.is_deleted == (t.deleted_reason is not None)
        if c.is_deleted:
            assert (c.content, c.commands, c.user_id, c.score, c.date_usec) == (
                "",
                "",
                None,
                None,
                None,
            )
            assert c.deleted_reason == t.deleted_reason
        else:
            assert (c.content, c.commands, c.user_id) == (t.content, t.commands, t.user_id)
            assert c.score == (t.score or None) and c.nicoru_count == (t.nicoru_count or None)
            assert c.date_usec == t.date_usec
    channel = expected_comments(world, CHANNEL_VIDEO_ID)
    assert Counter((c.thread_id, c.fork) for c in channel) == {
        (CHANNEL_THREAD_ID, "main"): 3000,
        (CHANNEL_DEFAULT_THREAD_ID, "main"): 800,
        (CHANNEL_DEFAULT_THREAD_ID, "owner"): 10,
    }
    with pytest.raises(ValueError):
        expected_comments(world, "sm9", protocol="carrier-pigeon")


def test_expected_comments_nvcomment(world):
    nv = expected_comments(world, BIG_VIDEO_ID, "nvcomment")
    main = world.thread(BIG_THREAD_ID).comments
    easy = world.thread(BIG_THREAD_ID, "easy").comments
    assert Counter(c.fork for c in nv) == {
        "owner": 20,
        "main": sum(1 for d in main.deleted if not d),
        "easy": sum(1 for d in easy.deleted if not d),
    }
    assert all(not c.is_deleted and c.deleted_reason is None and c.source is None for c in nv)
    assert all(c.date_usec is None and isinstance(c.score, int) for c in nv)
    assert all(isinstance(c.nicoru_count, int) and c.comment_id for c in nv)
    assert all(c.user_id == "4" for c in nv if c.fork == "owner")
    assert all(c.is_anonymous == ("184" in c.commands.split()) for c in nv)
    assert expected_comments(world, BIG_VIDEO_ID, "nvcomment", forks=("main",)) == [
        c for c in nv if c.fork == "main"
    ]
    # the shared fields agree with the legacy view on non-deleted main comments
    legacy = {c.no: c for c in expected_comments(world, BIG_VIDEO_ID) if c.fork == "main"}
    shared = (
        "thread_id",
        "no",
        "vpos_ms",
        "posted_at",
        "content",
        "commands",
        "user_id",
        "is_premium",
        "is_anonymous",
    )
    for c in (c for c in nv if c.fork == "main"):
        old = legacy[c.no]
        assert not old.is_deleted
        assert all(getattr(c, name) == getattr(old, name) for name in shared)
        assert c.score == (old.score or 0) and c.nicoru_count == (old.nicoru_count or 0)
    assert len(legacy) == 30_000  # deleted ones too, on the legacy side
    # the legacy view keeps to main + owner unless asked for fork 2
    assert len(expected_comments(world, BIG_VIDEO_ID)) == 30_020
    assert len(expected_comments(world, BIG_VIDEO_ID, forks=("easy",))) == 300
    channel = expected_comments(world, CHANNEL_VIDEO_ID, "nvcomment")
    assert [k for k in dict.fromkeys((c.thread_id, c.fork) for c in channel)] == [
        (CHANNEL_DEFAULT_THREAD_ID, "owner"),
        (CHANNEL_DEFAULT_THREAD_ID, "main"),
        (CHANNEL_THREAD_ID, "main"),
    ]


def test_describe_lists_accounts_and_videos(world):
    text = describe_world(world)
    for needle in (
        DEMO_EMAIL,
        MFA_EMAIL,
        MFA_CODE,
        "sm9",
        CHANNEL_VIDEO_ID,
        CHANNEL_THREAD_ID,
        REAL_NM_VIDEO_ID,
        "1173108780/easy 300",
        "sm8000002",
        "ADMINISTRATOR_DELETE_VIDEO",
        "sm8000003",
        "RIGHT_HOLDER_DELETE_VIDEO",
        "so8000100",
        "CHANNEL_MEMBER_ONLY",
        "sm8000200",
        "PREMIUM_ONLY",
        "sm8000300",
        "DOMESTIC_VIDEO",
    ):
        assert needle in text
    with Sandbox(world) as sandbox:
        full = sandbox.describe()
        assert text in full and sandbox.nvcomment_url in full and sandbox.www_url in full


@pytest.mark.slow
def test_million_comment_world():
    # Correctness at full size only: how fast it is belongs to benchmarks/, as ratios.
    big = build_world(0, big_comments=1_000_000)
    table = big.thread(BIG_THREAD_ID).comments
    assert len(table) == 1_000_000 and table.nos[-1] == 1_000_000
    with Sandbox(big) as sandbox:
        s = login(sandbox)
        wk = key(s, sandbox, "waybackkey", BIG_THREAD_ID)
        when = table.posted_at[500_000]
        root = parse(
            post_packet(
                s, sandbox, thread_xml(BIG_THREAD_ID, res_from="-1000", when=when, waybackkey=wk)
            )
        )
        hi = bisect_right(table.posted_at, when)
        assert [int(c.get("no")) for c in chats_of(root)] == list(table.nos[hi - 1000 : hi])

        sandbox.rate_limit_per_minute = None
        thread_key = watch_data(s, sandbox, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
        main = [(BIG_THREAD_ID, "main")]
        [window] = v1_ok(sandbox, thread_key, main)  # builds the per-minute index once
        assert Counter(c["source"] for c in window["comments"])["trunk"] == 500  # 319 s
        [page] = v1_ok(sandbox, thread_key, main, {"when": when, "res_from": -1000})
        alive = [i for i in range(hi - 2000, hi) if not table.deleted[i]][-1000:]
        assert [c["no"] for c in page["comments"]] == [table.nos[i] for i in alive]
