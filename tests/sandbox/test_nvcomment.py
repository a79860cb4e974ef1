"""The nvcomment server: POST /v1/threads (protocol.md §3.3–3.7)."""

from __future__ import annotations

import base64
import json
import time
from bisect import bisect_right
from collections import Counter

import pytest
import requests

from nicocomments.records import Comment
from nicosandbox import (
    BIG_THREAD_ID,
    BIG_VIDEO_ID,
    CHANNEL_DEFAULT_THREAD_ID,
    CHANNEL_THREAD_ID,
    CHANNEL_VIDEO_ID,
    LEAF_CAP,
    LEAF_PER_MINUTE,
    MEDIUM_THREAD_ID,
    MEDIUM_VIDEO_ID,
    REAL_NM_THREAD_ID,
    REAL_NM_VIDEO_ID,
    SHORT_THREAD_ID,
    SHORT_VIDEO_ID,
    Sandbox,
    expected_comments,
)
from tests.conftest import shared_file
from tests.sandbox.helpers import (
    FRONTEND,
    NOW,
    guest_key,
    jwt,
    login,
    targets_of,
    unix,
    v1,
    v1_error,
    v1_ok,
    v1_to_comment,
    watch_data,
)


def _expected_window(table, window: int) -> list[tuple[int, str]]:
    """The window rule written out plainly: newest W non-deleted as trunk, then per minute the
    newest others until the minute holds 100, at most 1000 leaf comments in all."""
    alive = [i for i in range(len(table)) if not table.deleted[i]]
    trunk = alive[-window:] if window else []
    in_trunk = set(trunk)
    per_minute = Counter(table.vpos_ms[i] // 60_000 for i in trunk)
    leaf: list[int] = []
    for minute in sorted({v // 60_000 for v in table.vpos_ms}):
        rest = [i for i in alive if table.vpos_ms[i] // 60_000 == minute and i not in in_trunk]
        take = max(0, min(LEAF_PER_MINUTE - per_minute[minute], LEAF_CAP - len(leaf)))
        if take:
            leaf += rest[-take:]
    return sorted([(table.nos[i], "trunk") for i in trunk] + [(table.nos[i], "leaf") for i in leaf])


@pytest.mark.parametrize(
    ("video_id", "thread_id", "fork", "window"),
    [
        (BIG_VIDEO_ID, BIG_THREAD_ID, "main", 500),  # 319 s
        (BIG_VIDEO_ID, BIG_THREAD_ID, "easy", 500),
        (SHORT_VIDEO_ID, SHORT_THREAD_ID, "main", 100),  # 45 s
        (MEDIUM_VIDEO_ID, MEDIUM_THREAD_ID, "main", 250),  # 240 s
        (CHANNEL_VIDEO_ID, CHANNEL_THREAD_ID, "main", 1000),  # 1420 s: the leaf cap bites
        (CHANNEL_VIDEO_ID, CHANNEL_DEFAULT_THREAD_ID, "main", 1000),  # only 800 exist
        (REAL_NM_VIDEO_ID, REAL_NM_THREAD_ID, "main", 250),  # 150 s
    ],
)
def test_v1_window_trunk_and_leaf(sb, world, video_id, thread_id, fork, window):
    table = world.thread(thread_id, fork).comments
    [thread] = v1_ok(sb, guest_key(sb, video_id), [(thread_id, fork)])
    got = [(c["no"], c["source"]) for c in thread["comments"]]
    assert got == _expected_window(table, window)
    alive = sum(1 for d in table.deleted if not d)
    assert sum(1 for _, source in got if source == "trunk") == min(window, alive)
    assert sum(1 for _, source in got if source == "leaf") <= LEAF_CAP
    assert thread["commentCount"] == table.nos[-1]
    deleted = {table.nos[i] for i in range(len(table)) if table.deleted[i]}
    assert not deleted & {no for no, _ in got}


def test_v1_owner_threads_come_whole(sb, world):
    for video_id, thread_id, count in (
        (BIG_VIDEO_ID, BIG_THREAD_ID, 20),
        (REAL_NM_VIDEO_ID, REAL_NM_THREAD_ID, 802),
    ):
        [owner] = v1_ok(sb, guest_key(sb, video_id), [(thread_id, "owner")])
        assert [c["no"] for c in owner["comments"]] == list(
            world.thread(thread_id, "owner").comments.nos
        )
        assert len(owner["comments"]) == owner["commentCount"] == count
        assert {c["source"] for c in owner["comments"]} == {"trunk"}
    assert {c["userId"] for c in owner["comments"]} == {"358504"}  # the uploader's id
    [big_owner] = v1_ok(sb, guest_key(sb), [(BIG_THREAD_ID, "owner")])
    assert {c["userId"] for c in big_owner["comments"]} == {"4"}
    [empty] = v1_ok(sb, guest_key(sb, SHORT_VIDEO_ID), [(SHORT_THREAD_ID, "owner")])
    assert empty == {"id": SHORT_THREAD_ID, "fork": "owner", "commentCount": 0, "comments": []}


COMMENT_FIELDS_V1 = [
    "id",
    "no",
    "vposMs",
    "body",
    "commands",
    "userId",
    "isPremium",
    "score",
    "postedAt",
    "nicoruCount",
    "nicoruId",
    "source",
    "isMyPost",
]


def test_v1_answer_shape_and_the_real_nm14999484_answer(sb):
    real = json.loads(
        shared_file("samples/nvcomment_v1/niwango.js__nm14999484.json").read_text("utf-8")
    )
    targets = [(t["id"], t["fork"]) for t in real]
    r = v1(sb, guest_key(sb, REAL_NM_VIDEO_ID), targets, query="?pc=1")
    payload = r.json()
    assert list(payload) == ["meta", "data"] and payload["meta"] == {"status": 200}
    assert payload["data"]["globalComments"] == [{"id": REAL_NM_THREAD_ID, "count": 1378}]
    got = payload["data"]["threads"]
    assert [list(t) for t in got] == [["id", "fork", "commentCount", "comments"]] * 3
    for ours, theirs in zip(got, real, strict=True):
        assert (ours["id"], ours["fork"], ours["commentCount"]) == (
            theirs["id"],
            theirs["fork"],
            theirs["commentCount"],
        )
        assert ours["comments"] == theirs["comments"]  # byte for byte, 250 trunk + 89 leaf
        assert all(list(c) == COMMENT_FIELDS_V1 for c in ours["comments"])


def test_v1_comment_objects(sb, world):
    table = world.thread(BIG_THREAD_ID).comments
    [main] = v1_ok(sb, guest_key(sb), [(BIG_THREAD_ID, "main")])
    by_no = {table.nos[i]: i for i in range(len(table))}
    for c in main["comments"]:
        i = by_no[c["no"]]
        assert list(c) == COMMENT_FIELDS_V1 and isinstance(c["id"], str)
        assert c["id"] == table.comment_id(i) and c["vposMs"] == table.vpos_ms[i]
        assert c["body"] == table.content[i] and c["commands"] == table.commands[i].split()
        assert unix(c["postedAt"]) == table.posted_at[i] and c["userId"] == table.user_id[i]
        assert c["score"] == table.score[i] and c["nicoruCount"] == table.nicoru[i]
        assert c["isPremium"] == table.is_premium(i)
        assert c["nicoruId"] is None and c["isMyPost"] is False
    assert any(c["commands"] == [] for c in main["comments"])
    assert any(c["score"] < 0 for c in main["comments"])


def test_v1_when_is_inclusive_and_res_from_capped(sb, world):
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    table = world.thread(BIG_THREAD_ID).comments
    when = table.posted_at[15_000]
    hi = bisect_right(table.posted_at, when)
    alive = [i for i in range(hi) if not table.deleted[i]]
    for additionals, count in (
        ({"when": when}, 1000),
        ({"when": when, "res_from": -1000}, 1000),
        ({"when": when, "res_from": -5000}, 1000),
        ({"when": when, "res_from": -10}, 10),
        ({"when": float(when) + 0.5, "res_from": -10}, 10),
    ):
        [thread] = v1_ok(sb, key, [(BIG_THREAD_ID, "main")], additionals)
        comments = thread["comments"]
        assert [c["no"] for c in comments] == [table.nos[i] for i in alive[-count:]]
        assert {c["source"] for c in comments} == {"trunk"}
        assert max(unix(c["postedAt"]) for c in comments) == when  # inclusive
        assert thread["commentCount"] == 30_000  # the newest overall, not at `when`
    assert v1_ok(sb, key, [(BIG_THREAD_ID, "main")], {"when": 1_000_000_000})[0]["comments"] == []


def test_v1_shuffled_comments_are_seeded(world):
    orders = []
    for _ in range(2):
        with Sandbox(world, shuffle_chats=True) as sandbox:
            [thread] = v1_ok(sandbox, guest_key(sandbox), [(BIG_THREAD_ID, "main")])
            orders.append([c["no"] for c in thread["comments"]])
    assert orders[0] == orders[1] and orders[0] != sorted(orders[0])
    with Sandbox(world) as sandbox:
        [thread] = v1_ok(sandbox, guest_key(sandbox), [(BIG_THREAD_ID, "main")])
    assert sorted(orders[0]) == [c["no"] for c in thread["comments"]]


def test_v1_content_types_headers_and_cookies(sb):
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    target = [(BIG_THREAD_ID, "main")]
    for content_type in ("text/plain;charset=UTF-8", "application/json", None):
        assert v1_ok(sb, key, target, {"when": NOW, "res_from": -5}, content_type=content_type)
    # identity is the key: a cookie-less request with a logged-in key reads past logs
    assert (
        len(v1_ok(sb, key, target, {"when": NOW, "res_from": -5}, session=requests)[0]["comments"])
        == 5
    )
    assert v1_error(sb, key, target, headers={"X-Frontend-Id": None}) == (400, "INVALID_PARAMETER")
    assert v1_error(sb, key, target, content_type="application/x-www-form-urlencoded") == (
        400,
        "INVALID_PARAMETER",
    )


def test_v1_errors(sb, world):
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    guest = guest_key(sb)
    main = [(BIG_THREAD_ID, "main")]
    url = f"{sb.nvcomment_url}/v1/threads"
    bad_bodies = [
        b"",
        b"not json",
        b"[]",
        b'{"params": {}}',
        json.dumps({"threadKey": key}).encode(),
    ]
    for body in bad_bodies:
        r = requests.post(url, data=body, headers=FRONTEND)
        assert (r.status_code, r.json()) == (
            400,
            {"meta": {"status": 400, "errorCode": "INVALID_PARAMETER"}},
        )
    invalid_parameter = [
        (key, [], None),
        (key, [(BIG_THREAD_ID, "side")], None),
        (key, [("1999999999", "main")], None),
        (key, main, {"when": "yesterday"}),
        (key, main, {"when": NOW, "res_from": 0}),
        (key, main, {"when": True}),
    ]
    for token, targets, additionals in invalid_parameter:
        assert v1_error(sb, token, targets, additionals) == (400, "INVALID_PARAMETER")
    head, body, signature = key.split(".")
    claims = jwt(key)[1]
    forged_body = (
        base64.urlsafe_b64encode(json.dumps({**claims, "tids": [SHORT_THREAD_ID]}).encode())
        .rstrip(b"=")
        .decode()
    )
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    invalid_token = [
        ("", main, None),
        ("not.a.jwt", main, None),
        (f"{head}.{body}.{flipped}", main, None),
        (f"{head}.{forged_body}.{signature}", [(SHORT_THREAD_ID, "main")], None),
        (key, [(SHORT_THREAD_ID, "main")], None),  # tids do not cover that thread
        (key, [*main, (SHORT_THREAD_ID, "main")], None),
        (guest, main, {"when": NOW}),  # past logs need login (comment-zouryou)
        (guest, main, {"when": NOW, "res_from": -1000}),
    ]
    for token, targets, additionals in invalid_token:
        assert v1_error(sb, token, targets, additionals) == (400, "INVALID_TOKEN"), token[:20]
    assert v1_ok(sb, guest, main) and v1_ok(sb, key, main, {"when": NOW})
    assert sb.stats.v1_errors == {"INVALID_PARAMETER": 5 + 6, "INVALID_TOKEN": 8}


def test_v1_expired_tokens(sb):
    # A frozen clock: `exp` is whole seconds, so a running clock could pass it at +203 s.
    issued = 1_800_000_000.25
    sb.clock = lambda: issued
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    main = [(BIG_THREAD_ID, "main")]
    assert v1_ok(sb, key, main)
    sb.clock = lambda: issued + 203
    assert v1_ok(sb, key, main)
    sb.clock = lambda: issued + 205  # past `exp` (204 s)
    assert v1_error(sb, key, main) == (400, "EXPIRED_TOKEN")
    fresh = s.get(
        f"{sb.url}/nvapi/v1/comment/keys/thread", params={"videoId": "sm9"}, headers=FRONTEND
    ).json()["data"]["threadKey"]
    assert v1_ok(sb, fresh, main, {"when": NOW})
    sb.clock = time.time
    sb.key_max_uses = 2
    key = guest_key(sb)
    assert v1_ok(sb, key, [*main, (BIG_THREAD_ID, "owner")])  # one use, however many targets
    assert v1_ok(sb, key, main)
    assert v1_error(sb, key, main) == (400, "EXPIRED_TOKEN")
    assert v1_ok(sb, guest_key(sb), main)
    assert sb.stats.v1_errors == {"EXPIRED_TOKEN": 2}


def test_v1_rate_limit(world):
    now = [1_800_000_000.0]
    with Sandbox(world, rate_limit_per_minute=3, clock=lambda: now[0]) as sandbox:
        key, main = guest_key(sandbox), [(BIG_THREAD_ID, "main")]
        for _ in range(3):
            assert v1_ok(sandbox, key, main)
            now[0] += 10
        r = v1(sandbox, key, main)
        assert (r.status_code, r.json()) == (
            429,
            {"meta": {"status": 429, "errorCode": "TOO_MANY_REQUESTS"}},
        )
        now[0] += 31  # 61 s after the first: one slot is free again
        assert v1_ok(sandbox, key, main)
        assert v1_error(sandbox, key, main) == (429, "TOO_MANY_REQUESTS")
        assert v1_error(sandbox, "junk", main) == (429, "TOO_MANY_REQUESTS")  # counted first
        assert sandbox.stats.v1_errors["TOO_MANY_REQUESTS"] == 3
        sandbox.reset_stats()  # also forgets the window
        assert v1_ok(sandbox, key, main)
        sandbox.rate_limit_per_minute = None
        for _ in range(10):
            assert v1_ok(sandbox, key, main)
    assert Sandbox(world).rate_limit_per_minute == 60


def test_v1_stats(sb):
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    all_three = [(BIG_THREAD_ID, "owner"), (BIG_THREAD_ID, "main"), (BIG_THREAD_ID, "easy")]
    v1_ok(sb, key, all_three)
    v1_ok(sb, key, [(BIG_THREAD_ID, "main")], {"when": NOW})
    v1_ok(sb, key, [(int(BIG_THREAD_ID), "main")], {"when": NOW})  # ids may be numbers too
    v1_error(sb, key, [(BIG_THREAD_ID, "side")])
    stats = sb.stats
    assert stats.v1_requests(BIG_THREAD_ID) == 3
    assert stats.v1_requests(int(BIG_THREAD_ID), "main", with_when=True) == 2
    assert stats.v1_requests(BIG_THREAD_ID, "main", with_when=False) == 1
    assert (
        stats.v1_requests(BIG_THREAD_ID, "owner") == stats.v1_requests(BIG_THREAD_ID, "easy") == 1
    )
    assert stats.v1_errors == {"INVALID_PARAMETER": 1}
    assert stats.requests["nvcomment"] == 4 and not stats.threads  # legacy counters untouched
    snapshot = stats.snapshot()
    assert snapshot["v1_threads"][(BIG_THREAD_ID, "main")] == 3
    assert snapshot["v1_threads_with_when"][(BIG_THREAD_ID, "main")] == 2
    sb.reset_stats()
    assert sb.stats.v1_requests(BIG_THREAD_ID) == 0 and not sb.stats.v1_errors


def _walk_v1(sb, key: str, thread_id: str, fork: str) -> list[Comment]:
    """Page back by hand: `when` = the oldest postedAt of the last page + 1, de-duplicated on
    no, until a page brings nothing new."""
    seen: dict[int, Comment] = {}
    when = NOW
    while True:
        [thread] = v1_ok(sb, key, [(thread_id, fork)], {"res_from": -1000, "when": when})
        fresh = {c["no"]: v1_to_comment(c, thread_id, fork) for c in thread["comments"]}
        if not set(fresh) - set(seen):
            return list(seen.values())
        seen.update((no, c) for no, c in fresh.items() if no not in seen)
        when = min(unix(c["postedAt"]) for c in thread["comments"]) + 1


def test_walking_back_collects_expected_comments(world):
    with Sandbox(world, rate_limit_per_minute=None) as sandbox:
        s = login(sandbox)
        data = watch_data(s, sandbox, BIG_VIDEO_ID)
        key = data["comment"]["nvComment"]["threadKey"]
        for thread_id, fork in targets_of(data):
            got = _walk_v1(sandbox, key, thread_id, fork)
            expected = expected_comments(world, BIG_VIDEO_ID, "nvcomment", forks=(fork,))
            assert sorted(got) == sorted(expected), fork
        assert sandbox.stats.v1_requests(BIG_THREAD_ID, "main", with_when=True) > 30
