"""`nico fetch` over today's protocol (watch data + /v1/threads), end to end, on the emulator."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from nicocomments.config import Endpoints
from nicocomments.errors import RateLimited
from nicocomments.http import HttpSettings, make_session
from nicocomments.nvcomment import NvcommentClient
from nicosandbox import (
    BIG_THREAD_ID,
    BIG_VIDEO_ID,
    CHANNEL_DEFAULT_THREAD_ID,
    CHANNEL_THREAD_ID,
    CHANNEL_VIDEO_ID,
    DELETED_VIDEO_ID,
    MEDIUM_VIDEO_ID,
    PRIVATE_VIDEO_ID,
    SHORT_THREAD_ID,
    SHORT_VIDEO_ID,
    expected_comments,
)
from tests.helpers import budget, query, sorted_truth, stored_comments
from tests.reliability import (
    FAULT_OPTIONS,
    FAULT_SEEDS,
    assert_every_kind_drawn,
    assert_faults_met,
    fault_plan,
)

FAST = ("--interval", "0", "--backoff", "0")
SHARED_FIELDS = (
    "thread_id",
    "fork",
    "no",
    "vpos_ms",
    "posted_at",
    "content",
    "commands",
    "user_id",
    "is_premium",
    "is_anonymous",
)


def fetch(nico, db, *args):
    return nico("fetch", *args, "--db", db, *FAST)


def without_source(comments):
    return [c._replace(source=None) for c in comments]


def expected(world, video_id):
    return sorted_truth(expected_comments(world, video_id, "nvcomment"))


def test_auto_means_nvcomment_and_stores_the_whole_history_exactly(
    logged_in, nico, tmp_path, world
):
    db = tmp_path / "n.db"
    result = fetch(nico, db, BIG_VIDEO_ID, "--all-history")
    assert result.exit_code == 0, result.stderr
    stored = stored_comments(db, BIG_VIDEO_ID)
    assert without_source(stored) == expected(world, BIG_VIDEO_ID)
    assert {c.fork for c in stored} == {"owner", "main", "easy"}
    assert all(c.source in ("trunk", "leaf") and c.comment_id for c in stored)
    assert sum(logged_in.stats.threads.values()) == 0  # not a single legacy request
    for fork in ("owner", "main", "easy"):
        n = len(world.thread(BIG_THREAD_ID, fork).comments)
        assert logged_in.stats.v1_requests(BIG_THREAD_ID, fork) <= budget(n), fork
    assert query(db, "SELECT DISTINCT protocol FROM fetch_runs") == [("nvcomment",)]
    counts = dict(query(db, "SELECT fork, comment_count FROM threads"))
    assert counts["main"] == len(world.thread(BIG_THREAD_ID, "main").comments)


@pytest.mark.parametrize("seed", FAULT_SEEDS)
def test_faults_and_thread_keys_expiring_every_few_requests(logged_in, nico, tmp_path, world, seed):
    # Every fault kind the emulator has, on every route group, at FAULT_RATE: one run must do.
    logged_in.faults = fault_plan(seed)
    logged_in.key_max_uses = 3
    logged_in.shuffle_chats = True
    db = tmp_path / "n.db"
    result = fetch(nico, db, BIG_VIDEO_ID, "--all-history", *FAULT_OPTIONS)
    assert result.exit_code == 0, result.stderr
    assert without_source(stored_comments(db, BIG_VIDEO_ID)) == expected(world, BIG_VIDEO_ID)
    assert logged_in.stats.v1_errors["EXPIRED_TOKEN"] >= 5
    assert_faults_met(logged_in.stats, "nvcomment", seed)


def test_every_fault_kind_falls_on_the_comment_server_over_the_seeds(
    logged_in, nico, tmp_path, world
):
    def run_seed(seed):
        logged_in.reset_stats()
        (tmp_path / str(seed)).mkdir()
        test_faults_and_thread_keys_expiring_every_few_requests(
            logged_in, nico, tmp_path / str(seed), world, seed
        )

    assert_every_kind_drawn("nvcomment", run_seed)


def test_a_bare_429_from_the_comment_server_is_waited_out(logged_in, nico, tmp_path, world):
    # What a CDN sends: no JSON, no errorCode; an empty body, then an HTML page.
    logged_in.inject("nvcomment", b"", status=429, content_type="text/plain", times=2)
    logged_in.inject(
        "nvcomment",
        b"<html><body>429 Too Many Requests</body></html>",
        status=429,
        content_type="text/html",
        times=2,
    )
    db = tmp_path / "n.db"
    result = fetch(nico, db, SHORT_VIDEO_ID, "--all-history", "--rate-limit-wait", "0")
    assert result.exit_code == 0, result.stderr
    assert without_source(stored_comments(db, SHORT_VIDEO_ID)) == expected(world, SHORT_VIDEO_ID)
    assert logged_in.stats.injected["nvcomment"] == 4


def test_a_channel_video_with_targets_on_two_threads(logged_in, nico, tmp_path, world):
    db = tmp_path / "n.db"
    result = fetch(nico, db, CHANNEL_THREAD_ID, "--all-history")  # by thread id: canonical video id
    assert result.exit_code == 0, result.stderr
    stored = stored_comments(db)
    assert without_source(stored) == expected(world, CHANNEL_VIDEO_ID)
    assert {(c.thread_id, c.fork) for c in stored} >= {
        (CHANNEL_THREAD_ID, "main"),
        (CHANNEL_DEFAULT_THREAD_ID, "main"),
    }
    assert query(db, "SELECT DISTINCT video_id FROM comments") == [(CHANNEL_VIDEO_ID,)]


def test_legacy_and_nvcomment_store_the_same_comments(logged_in, nico, tmp_path, world):
    legacy_db, nv_db = tmp_path / "legacy.db", tmp_path / "nv.db"
    assert (
        fetch(nico, legacy_db, MEDIUM_VIDEO_ID, "--all-history", "--protocol", "legacy").exit_code
        == 0
    )
    assert (
        fetch(nico, nv_db, MEDIUM_VIDEO_ID, "--all-history", "--protocol", "nvcomment").exit_code
        == 0
    )

    def shared(db):
        return [
            tuple(getattr(c, f) for f in SHARED_FIELDS)
            for c in stored_comments(db, MEDIUM_VIDEO_ID)
            if not c.is_deleted and c.fork == "main"
        ]

    legacy, nv = shared(legacy_db), shared(nv_db)
    assert legacy and legacy == nv
    # Deleted comments: the legacy server lists them (without text); today's leaves them out.
    assert query(legacy_db, "SELECT count(*) FROM comments WHERE is_deleted") != [(0,)]
    assert query(nv_db, "SELECT count(*) FROM comments WHERE is_deleted") == [(0,)]


def test_a_guest_gets_the_window_but_not_past_logs(sandbox, nico, tmp_path, world):
    db = tmp_path / "n.db"
    result = fetch(nico, db, SHORT_VIDEO_ID)
    assert result.exit_code == 0, result.stderr
    assert query(db, "SELECT count(*) FROM comments WHERE fork='main'")[0][0] > 0
    result = fetch(nico, db, SHORT_VIDEO_ID, "--all-history")
    assert result.exit_code == 3
    assert "log in to read past comments" in result.stderr and "nico login" in result.stderr


@pytest.mark.parametrize(
    ("video_id", "code", "words"),
    [
        ("sm7777777", 4, "was not found"),
        (DELETED_VIDEO_ID, 4, "deleted"),
        ("sm8000002", 4, "deleted by the operator"),
        ("sm8000003", 4, "rights holder"),
        (PRIVATE_VIDEO_ID, 4, "is private"),
        ("so8000100", 4, "channel members only"),
        ("sm8000300", 4, "from Japan"),
    ],
)
def test_videos_that_cannot_be_watched(logged_in, nico, tmp_path, video_id, code, words):
    result = fetch(nico, tmp_path / "n.db", video_id)
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith(f"Error: {video_id} ") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_premium_only_video(sandbox, nico, tmp_path):
    from nicosandbox import MFA_CODE, MFA_EMAIL, MFA_PASSWORD

    login = nico(
        "login",
        "--email",
        MFA_EMAIL,
        "--password-stdin",
        "--otp",
        MFA_CODE,
        input=MFA_PASSWORD + "\n",
    )
    assert login.exit_code == 0
    result = fetch(nico, tmp_path / "n.db", "sm8000200")
    assert result.exit_code == 4 and "premium members only" in result.stderr


def test_maintenance(logged_in, nico, tmp_path):
    logged_in.maintenance = True
    try:
        result = fetch(nico, tmp_path / "n.db", SHORT_VIDEO_ID, "--retries", "1")
    finally:
        logged_in.maintenance = False
    assert result.exit_code == 5
    assert "maintenance" in result.stderr


@pytest.mark.parametrize("knob", ["watch_api_enabled", "watch_page_meta"])
def test_watch_data_falls_back_to_the_page(logged_in, nico, tmp_path, world, knob):
    logged_in.watch_api_enabled = False
    if knob == "watch_page_meta":
        logged_in.watch_page_meta = False  # and then to ?responseType=json
    try:
        db = tmp_path / "n.db"
        result = fetch(nico, db, SHORT_VIDEO_ID, "--all-history")
        assert result.exit_code == 0, result.stderr
        assert without_source(stored_comments(db, SHORT_VIDEO_ID)) == expected(
            world, SHORT_VIDEO_ID
        )
    finally:
        logged_in.watch_api_enabled = True
        logged_in.watch_page_meta = True


def test_too_many_requests_waits_and_retries(logged_in, world):
    fake_now = [time.time()]
    real_clock = logged_in.clock
    logged_in.clock = lambda: fake_now[0]
    logged_in.rate_limit_per_minute = 3
    waited = []

    def sleep(seconds):
        waited.append(seconds)
        fake_now[0] += seconds

    try:
        endpoints = Endpoints.from_env(logged_in.env())
        session = make_session(HttpSettings(interval=0))
        from nicocomments import auth
        from nicosandbox import DEMO_EMAIL, DEMO_PASSWORD

        auth.login_with_password(session, endpoints, DEMO_EMAIL, DEMO_PASSWORD, lambda n: None)
        client = NvcommentClient(
            session, endpoints, logged_in=True, rate_limit_wait=61, sleep=sleep
        )
        info = client.video_info(SHORT_VIDEO_ID)
        main = next(t for t in info.threads if t.fork == "main")
        pages = [client.thread_page(main, when=int(fake_now[0]) - i) for i in range(5)]
        assert all(p.comments for p in pages)
        assert waited and all(w == 61 for w in waited)
        logged_in.rate_limit_per_minute = 0  # nothing is ever allowed: give up after a few waits
        with pytest.raises(RateLimited) as raised:
            client.thread_page(main)
        # What the error is about travels as fields, not only as words.
        assert raised.value.code == "TOO_MANY_REQUESTS" and raised.value.status == 429
        assert raised.value.thread_id == main.thread_id
    finally:
        logged_in.clock = real_clock
        logged_in.rate_limit_per_minute = None


def test_batches_isolate_failures_and_summarise(logged_in, nico, tmp_path):
    db = tmp_path / "n.db"
    ids = tmp_path / "ids.txt"
    ids.write_text(
        f"# my list\n{SHORT_VIDEO_ID}\n\nhttps://www.nicovideo.jp/watch/{DELETED_VIDEO_ID}\n"
    )
    result = fetch(nico, db, "--from-file", ids, f"nico.ms/{MEDIUM_VIDEO_ID}")
    assert result.exit_code == 4
    assert f"Error: {DELETED_VIDEO_ID}: " in result.stderr
    assert "Batch summary" in result.stdout and "2 of 3 videos fetched" in result.stdout
    assert {v for (v,) in query(db, "SELECT DISTINCT video_id FROM comments")} == {
        SHORT_VIDEO_ID,
        MEDIUM_VIDEO_ID,
    }


def test_a_session_expiring_mid_batch_stops_it_with_exit_3(logged_in, nico, tmp_path):
    db = tmp_path / "n.db"
    logged_in.key_max_uses = 2  # keys are renewed often: with the session gone, that fails

    def expire_when_the_big_walk_runs():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with sqlite3.connect(db) as connection:
                    n = connection.execute(
                        "SELECT count(*) FROM comments WHERE video_id = ?", (BIG_VIDEO_ID,)
                    ).fetchone()[0]
            except sqlite3.Error:
                n = 0
            if n >= 3000:
                logged_in.expire_sessions()
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=expire_when_the_big_walk_runs)
    watcher.start()
    result = nico(
        "fetch",
        SHORT_VIDEO_ID,
        BIG_VIDEO_ID,
        MEDIUM_VIDEO_ID,
        "--all-history",
        "--db",
        db,
        "--interval",
        "0.02",
        "--backoff",
        "0",
    )
    watcher.join()
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "nico login" in result.stderr
    stored = {v for (v,) in query(db, "SELECT DISTINCT video_id FROM comments")}
    assert SHORT_VIDEO_ID in stored and MEDIUM_VIDEO_ID not in stored
    assert query(db, "SELECT count(*) FROM comments WHERE video_id = ?", BIG_VIDEO_ID)[0][0] >= 3000


def test_fill_gaps_recovers_what_can_be_recovered(logged_in, nico, tmp_path, world):
    db = tmp_path / "n.db"
    assert fetch(nico, db, MEDIUM_VIDEO_ID, "--all-history").exit_code == 0
    truth = expected(world, MEDIUM_VIDEO_ID)
    # Lose a few stretches of stored comments, as a crash of an older tool might have.
    with sqlite3.connect(db) as connection:
        connection.execute(
            "DELETE FROM comments WHERE fork = 'main' "
            "AND (no BETWEEN 100 AND 180 OR no BETWEEN 900 AND 905)"
        )
    logged_in.reset_stats()
    result = fetch(nico, db, MEDIUM_VIDEO_ID, "--fill-gaps")
    assert result.exit_code == 0, result.stderr
    assert without_source(stored_comments(db, MEDIUM_VIDEO_ID)) == truth
    assert "recovered" in result.stdout
    # What is still missing are the comments the server deleted: it says so.
    deleted = [
        c.no
        for c in expected_comments(world, MEDIUM_VIDEO_ID, "legacy")
        if c.is_deleted and c.fork == "main"
    ]
    assert deleted and "would not return" in result.stdout
    status = nico("status", MEDIUM_VIDEO_ID, "--db", db, "--json")
    main = next(r for r in json.loads(status.stdout) if r["fork"] == "main")
    missing = {n for a, b in main["missing"] for n in range(a, b + 1)}
    assert missing == set(deleted)
    assert [run["mode"] for run in main["runs"]] == ["all-history", "fill-gaps"]


def test_status_lists_missing_ranges_and_runs(logged_in, nico, tmp_path):
    db = tmp_path / "n.db"
    assert fetch(nico, db, SHORT_VIDEO_ID, "--all-history").exit_code == 0
    result = nico("status", SHORT_VIDEO_ID, "--db", db)
    assert result.exit_code == 0
    assert f"main {SHORT_THREAD_ID}:" in result.stdout
    assert "run #1" in result.stdout and "nvcomment all-history" in result.stdout


V1_ERRORS = {
    # code: (HTTP status, exit code, words in the message)
    "INVALID_TOKEN": (400, 3, "refused the thread key"),
    "EXPIRED_TOKEN": (400, 3, "could not be renewed"),
    "INVALID_PARAMETER": (400, 5, "rejected the request parameters"),
    "FORBIDDEN": (403, 4, "refused this thread"),
    "NOT_FOUND": (404, 4, "does not know this thread"),
    "TOO_MANY_REQUESTS": (429, 5, "TOO_MANY_REQUESTS"),
}


@pytest.mark.parametrize("code", sorted(V1_ERRORS))
def test_every_comment_server_error_has_its_message_and_exit_code(logged_in, nico, tmp_path, code):
    status, exit_code, words = V1_ERRORS[code]
    body = json.dumps({"meta": {"status": status, "errorCode": code}}).encode()
    # Enough answers for every retry and renewal nico makes before giving up.
    logged_in.inject("nvcomment", body, status=status, content_type="application/json", times=20)
    db = tmp_path / "n.db"
    result = fetch(nico, db, SHORT_VIDEO_ID, "--all-history", "--rate-limit-wait", "0")
    assert result.exit_code == exit_code, result.stderr
    assert result.stderr.startswith("Error: ") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert query(db, "SELECT count(*) FROM comments") == [(0,)]
    assert query(db, "SELECT status FROM fetch_runs") == [("failed",)]
