"""`nico fetch --protocol legacy` end to end, over real HTTP against the emulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from nicosandbox import (
    BIG_THREAD_ID,
    BIG_VIDEO_ID,
    CHANNEL_DEFAULT_THREAD_ID,
    CHANNEL_THREAD_ID,
    CHANNEL_VIDEO_ID,
    DELETED_VIDEO_ID,
    MEDIUM_VIDEO_ID,
    PRIVATE_VIDEO_ID,
    REAL_NM_VIDEO_ID,
    REAL_OLD_VIDEO_ID,
    SHORT_THREAD_ID,
    SHORT_VIDEO_ID,
    FaultPlan,
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

FAST = ("--interval", "0", "--backoff", "0", "--protocol", "legacy")


def fetch(nico, db, *args):
    return nico("fetch", *args, "--db", db, *FAST)


def test_whole_history_of_the_big_video_is_stored_exactly(logged_in, nico, tmp_path, world):
    db = tmp_path / "n.db"
    result = fetch(nico, db, BIG_VIDEO_ID, "--all-history")
    assert result.exit_code == 0, result.stderr
    assert stored_comments(db, BIG_VIDEO_ID) == sorted_truth(expected_comments(world, BIG_VIDEO_ID))
    # Politeness: at most ⌈1.05·N/1000⌉ + 2 message-server requests per thread of N comments.
    requests = logged_in.stats.threads
    for (thread_id, fork), count in requests.items():
        n = len(world.thread(thread_id, fork).comments)
        assert count <= budget(n), (thread_id, fork, count, n)
    assert requests[(BIG_THREAD_ID, "owner")] == 1  # the owner thread is read once
    [(status, added)] = query(db, "SELECT status, comments_added FROM fetch_runs")
    assert status == "completed"
    assert added == len(expected_comments(world, BIG_VIDEO_ID))
    assert query(db, "SELECT history_complete, history_end FROM threads WHERE fork='main'") == [
        (1, "reached comment no 1")
    ]
    assert BIG_VIDEO_ID in result.stdout and "new comments" in result.stdout


@pytest.mark.parametrize("seed", FAULT_SEEDS)
def test_twenty_percent_faults_still_store_exactly_the_truth(
    logged_in, nico, tmp_path, world, seed
):
    # Every fault kind the emulator has, on every route group, at FAULT_RATE: one run must do.
    # The so… video sends the legacy client to the watch page (www) as well.
    logged_in.faults = fault_plan(seed)
    db = tmp_path / "n.db"
    result = fetch(nico, db, BIG_VIDEO_ID, CHANNEL_VIDEO_ID, "--all-history", *FAULT_OPTIONS)
    assert result.exit_code == 0, result.stderr
    assert_faults_met(logged_in.stats, "msg", seed)
    for video_id in (BIG_VIDEO_ID, CHANNEL_VIDEO_ID):
        assert stored_comments(db, video_id) == sorted_truth(expected_comments(world, video_id))


def test_every_fault_kind_falls_on_the_message_server_over_the_seeds(
    logged_in, nico, tmp_path, world
):
    def run_seed(seed):
        logged_in.reset_stats()
        (tmp_path / str(seed)).mkdir()
        test_twenty_percent_faults_still_store_exactly_the_truth(
            logged_in, nico, tmp_path / str(seed), world, seed
        )

    assert_every_kind_drawn("msg", run_seed)


def test_shuffled_answers_and_expiring_keys(logged_in, nico, tmp_path, world):
    logged_in.shuffle_chats = True
    logged_in.key_max_uses = 3  # every key expires after three requests
    db = tmp_path / "n.db"
    result = fetch(nico, db, CHANNEL_VIDEO_ID, "--all-history")
    assert result.exit_code == 0, result.stderr
    assert stored_comments(db) == sorted_truth(expected_comments(world, CHANNEL_VIDEO_ID))
    codes = Counter(code for (_, _, code) in logged_in.stats.resultcodes.elements())
    assert codes[5] + codes[9] >= 1  # too-old keys were met and renewed


def test_official_video_by_bare_thread_id_collects_both_threads(logged_in, nico, tmp_path, world):
    db = tmp_path / "n.db"
    result = fetch(nico, db, CHANNEL_THREAD_ID, "--all-history")
    assert result.exit_code == 0, result.stderr
    stored = stored_comments(db)
    assert {(c.thread_id, c.fork) for c in stored} == {
        (CHANNEL_THREAD_ID, "main"),
        (CHANNEL_DEFAULT_THREAD_ID, "main"),
        (CHANNEL_DEFAULT_THREAD_ID, "owner"),
    }
    assert stored == sorted_truth(expected_comments(world, CHANNEL_VIDEO_ID))
    key_thread = [c for c in stored if c.thread_id == CHANNEL_THREAD_ID and not c.is_deleted]
    assert all(c.is_anonymous and "184" in c.commands.split() for c in key_thread)


def test_without_all_history_each_thread_gets_its_current_window(logged_in, nico, tmp_path, world):
    db = tmp_path / "n.db"
    assert fetch(nico, db, SHORT_VIDEO_ID).exit_code == 0
    assert fetch(nico, db, MEDIUM_VIDEO_ID).exit_code == 0
    short = expected_comments(world, SHORT_VIDEO_ID)
    assert len(short) > 100
    assert stored_comments(db, SHORT_VIDEO_ID) == sorted_truth(short)[-100:]  # 45 s: window 100
    medium = sorted_truth(expected_comments(world, MEDIUM_VIDEO_ID))
    assert stored_comments(db, MEDIUM_VIDEO_ID) == medium[-250:]  # 240 s: window 250
    assert query(
        db,
        "SELECT history_complete FROM threads WHERE thread_id=? AND fork='main'",
        SHORT_THREAD_ID,
    ) == [(0,)]
    assert not any(when for when in logged_in.stats.threads_with_when.values())


def test_real_threads_served_by_the_emulator(logged_in, nico, tmp_path, world):
    db = tmp_path / "n.db"
    for video_id in (REAL_NM_VIDEO_ID, REAL_OLD_VIDEO_ID):
        result = fetch(nico, db, video_id, "--all-history")
        assert result.exit_code == 0, result.stderr
        assert stored_comments(db, video_id) == sorted_truth(expected_comments(world, video_id))


def test_running_again_is_idempotent_and_cheap(logged_in, nico, tmp_path, world):
    db = tmp_path / "n.db"
    assert fetch(nico, db, BIG_VIDEO_ID, "--all-history").exit_code == 0
    logged_in.reset_stats()
    result = fetch(nico, db, BIG_VIDEO_ID, "--all-history")
    assert result.exit_code == 0, result.stderr
    # A completed history is not walked again: one catch-up page, plus the owner thread.
    assert logged_in.stats.threads[(BIG_THREAD_ID, "main")] == 1
    assert stored_comments(db, BIG_VIDEO_ID) == sorted_truth(expected_comments(world, BIG_VIDEO_ID))
    assert query(db, "SELECT comments_added FROM fetch_runs ORDER BY id") == [
        (len(expected_comments(world, BIG_VIDEO_ID)),),
        (0,),
    ]


def test_refresh_walks_a_completed_history_again(logged_in, nico, tmp_path):
    db = tmp_path / "n.db"
    assert fetch(nico, db, SHORT_VIDEO_ID, "--all-history").exit_code == 0
    first = logged_in.stats.threads[(SHORT_THREAD_ID, "main")]
    logged_in.reset_stats()
    assert fetch(nico, db, SHORT_VIDEO_ID, "--all-history", "--refresh").exit_code == 0
    assert logged_in.stats.threads[(SHORT_THREAD_ID, "main")] == first


def test_newer_comments_are_picked_up_later(logged_in, nico, tmp_path):
    from nicosandbox import build_world

    # A private world: this test posts comments into it.
    world = build_world(seed=5, big_comments=3000)
    logged_in_world = logged_in.world
    logged_in.world = world
    try:
        db = tmp_path / "n.db"
        assert fetch(nico, db, BIG_VIDEO_ID, "--all-history").exit_code == 0
        _post(world, BIG_THREAD_ID, 1500)
        logged_in.reset_stats()
        result = fetch(nico, db, BIG_VIDEO_ID, "--all-history")
        assert result.exit_code == 0, result.stderr
        assert stored_comments(db, BIG_VIDEO_ID) == sorted_truth(
            expected_comments(world, BIG_VIDEO_ID)
        )
        assert logged_in.stats.threads[(BIG_THREAD_ID, "main")] <= 3
    finally:
        logged_in.world = logged_in_world


def _post(world, thread_id, count):
    comments = world.thread(thread_id, "main").comments
    last = comments[len(comments) - 1]
    for i in range(1, count + 1):
        comments.append(
            no=last.no + i,
            vpos_ms=1000 * (i % 300),
            posted_at=max(last.posted_at, int(time.time()) - 3600) + i,
            date_usec=i,
            content=f"new comment {i}",
            commands="184",
            user_id=f"newcomer{i % 7}",
            is_premium=False,
            is_anonymous=True,
        )


def test_before_walks_from_a_date_and_later_runs_fill_in_the_rest(logged_in, nico, tmp_path, world):
    db = tmp_path / "n.db"
    truth = sorted_truth(expected_comments(world, SHORT_VIDEO_ID))
    middle = truth[len(truth) // 2].posted_at
    result = fetch(nico, db, SHORT_VIDEO_ID, "--all-history", "--before", str(middle))
    assert result.exit_code == 0, result.stderr
    stored = stored_comments(db, SHORT_VIDEO_ID)
    main = [c for c in stored if c.fork == "main"]
    assert main and max(c.posted_at for c in main) <= middle
    assert main == [c for c in truth if c.fork == "main" and c.posted_at <= middle]
    assert fetch(nico, db, SHORT_VIDEO_ID, "--all-history").exit_code == 0
    assert stored_comments(db, SHORT_VIDEO_ID) == truth


# --- crashes and interruptions ---------------------------------------------------------------


def _subprocess_fetch(db, *args, env=None):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nicocomments",
            "fetch",
            BIG_VIDEO_ID,
            "--all-history",
            "--db",
            str(db),
            "--protocol",
            "legacy",
            *args,
        ],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A job started in the background inherits an ignored SIGINT; a user's terminal does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_pages(db, process, pages, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            rows = query(db, "SELECT pages FROM fetch_runs ORDER BY id DESC LIMIT 1")
        except Exception:
            rows = []
        if rows and rows[0][0] >= pages:
            return
        time.sleep(0.05)
    raise AssertionError("the fetch made no progress")


def test_kill_minus_nine_then_resume(logged_in, nico, tmp_path, world):
    db = tmp_path / "n.db"
    process = _subprocess_fetch(db, "--interval", "0.05")
    _wait_for_pages(db, process, 8)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    partial = stored_comments(db, BIG_VIDEO_ID)
    assert 0 < len(partial) < len(expected_comments(world, BIG_VIDEO_ID))
    [(cursor,)] = query(db, "SELECT history_when FROM threads WHERE fork='main'")
    assert cursor is not None  # the walk's cursor survived the kill
    logged_in.reset_stats()
    result = fetch(nico, db, BIG_VIDEO_ID, "--all-history")
    assert result.exit_code == 0, result.stderr
    assert stored_comments(db, BIG_VIDEO_ID) == sorted_truth(expected_comments(world, BIG_VIDEO_ID))
    # The resumed run did not walk again what was stored: only the rest, plus one catch-up page.
    n = len(world.thread(BIG_THREAD_ID, "main").comments)
    already = sum(1 for c in partial if c.fork == "main")
    assert logged_in.stats.threads[(BIG_THREAD_ID, "main")] <= budget(n - already) + 1
    statuses = [s for (s,) in query(db, "SELECT status FROM fetch_runs ORDER BY id")]
    assert statuses == ["interrupted", "completed"]


def test_ctrl_c_exits_130_and_keeps_what_was_stored(logged_in, tmp_path, world):
    db = tmp_path / "n.db"
    process = _subprocess_fetch(db, "--interval", "0.05")
    _wait_for_pages(db, process, 4)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1].startswith("Error: interrupted")
    assert "Traceback" not in stderr
    assert query(db, "SELECT status FROM fetch_runs") == [("interrupted",)]
    assert len(stored_comments(db, BIG_VIDEO_ID)) >= 2000


# --- errors ---------------------------------------------------------------------------------


def _snapshot(db):
    if not db.exists():
        return None
    return [
        query(db, f"SELECT * FROM {table} ORDER BY 1")
        for table in ("videos", "threads", "comments", "skipped_seconds")
    ]


@pytest.mark.parametrize(
    ("video_id", "code", "message"),
    [
        ("sm7777777", 4, "Error: sm7777777 was not found"),
        (DELETED_VIDEO_ID, 4, f"Error: {DELETED_VIDEO_ID} was deleted by its poster"),
        (PRIVATE_VIDEO_ID, 4, f"Error: {PRIVATE_VIDEO_ID} is private"),
        ("so99999999", 4, "Error: so99999999 was not found"),
    ],
)
def test_videos_that_cannot_be_read(logged_in, nico, tmp_path, video_id, code, message):
    db = tmp_path / "n.db"
    assert fetch(nico, db, SHORT_VIDEO_ID).exit_code == 0
    before = _snapshot(db)
    result = fetch(nico, db, video_id)
    assert result.exit_code == code
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert _snapshot(db) == before


@pytest.mark.parametrize("text", ["sm", "xx123", "https://example.com/watch/sm9", "sm9'"])
def test_malformed_ids_are_refused_before_anything_happens(sandbox, nico, tmp_path, text):
    db = tmp_path / "n.db"
    result = fetch(nico, db, text)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and "not" in result.stderr
    assert not db.exists()
    assert sum(sandbox.stats.requests.values()) == 0


def test_not_logged_in(sandbox, nico, tmp_path):
    db = tmp_path / "n.db"
    result = fetch(nico, db, BIG_VIDEO_ID)
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: ")
    assert "nico login" in result.stderr
    assert query(db, "SELECT count(*) FROM comments") == [(0,)]


def test_an_expired_session(logged_in, nico, tmp_path):
    logged_in.expire_sessions()
    result = fetch(nico, tmp_path / "n.db", BIG_VIDEO_ID)
    assert result.exit_code == 3
    assert "no longer" in result.stderr and "nico login" in result.stderr


HOSTILE = {
    "malformed": (
        b'<?xml version="1.0"?><packet><thread resultcode="0" thread="1"/><chat',
        5,
        "not well-formed",
    ),
    "xxe": (
        b'<?xml version="1.0"?><!DOCTYPE packet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<packet><thread resultcode="0" thread="1173108780"/><chat thread="1173108780" no="1" '
        b'vpos="0" date="1173108800">&x;</chat></packet>',
        5,
        "DTD",
    ),
    "billion-laughs": (
        b'<?xml version="1.0"?><!DOCTYPE packet [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<packet><chat thread="1" no="1" vpos="0" date="1">&c;</chat></packet>',
        5,
        "DTD",
    ),
    "not-a-packet": (b"<html><body>503 maintenance</body></html>", 5, "<html>"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_or_broken_message_server_answers(logged_in, nico, tmp_path, name):
    body, code, words = HOSTILE[name]
    db = tmp_path / "n.db"
    assert fetch(nico, db, SHORT_VIDEO_ID).exit_code == 0
    before = _snapshot(db)
    logged_in.inject("msg", body, times=1)
    result = fetch(nico, db, BIG_VIDEO_ID, "--all-history")
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith("Error: ") and words in result.stderr
    assert "root:" not in result.stderr  # /etc/passwd never leaks
    assert _snapshot(db) == before
    assert query(db, "SELECT status FROM fetch_runs ORDER BY id DESC LIMIT 1") == [("failed",)]


def test_an_answer_that_keeps_breaking_off(logged_in, nico, tmp_path):
    logged_in.faults = FaultPlan(rate=1.0, kinds=("truncate",), targets=("msg",))
    db = tmp_path / "n.db"
    result = fetch(nico, db, BIG_VIDEO_ID, "--retries", "2")
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: ") and "broke off" in result.stderr
    assert query(db, "SELECT count(*) FROM comments") == [(0,)]


def test_a_server_that_stays_down(logged_in, nico, tmp_path):
    logged_in.faults = FaultPlan(rate=1.0, kinds=("http503",), targets=("flapi",))
    result = fetch(nico, tmp_path / "n.db", BIG_VIDEO_ID, "--retries", "2")
    assert result.exit_code == 5
    assert "HTTP 503" in result.stderr


def test_nobody_listening(nico, tmp_path, monkeypatch):
    monkeypatch.setenv("NICO_FLAPI_URL", "http://127.0.0.1:9")  # the discard port: refused
    result = fetch(nico, tmp_path / "n.db", BIG_VIDEO_ID, "--retries", "1")
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: ") and "connect" in result.stderr


def test_batch_with_a_failure_fetches_the_rest(logged_in, nico, tmp_path, world):
    db = tmp_path / "n.db"
    result = fetch(nico, db, SHORT_VIDEO_ID, DELETED_VIDEO_ID, MEDIUM_VIDEO_ID)
    assert result.exit_code == 4
    assert f"Error: {DELETED_VIDEO_ID}: " in result.stderr
    assert {v for (v,) in query(db, "SELECT DISTINCT video_id FROM comments")} == {
        SHORT_VIDEO_ID,
        MEDIUM_VIDEO_ID,
    }


def test_a_thread_number_of_a_stored_video_keeps_its_name(logged_in, nico, tmp_path):
    db = tmp_path / "n.db"
    assert fetch(nico, db, CHANNEL_VIDEO_ID).exit_code == 0
    assert fetch(nico, db, CHANNEL_THREAD_ID).exit_code == 0
    assert query(db, "SELECT video_id FROM videos") == [(CHANNEL_VIDEO_ID,)]
    assert query(db, "SELECT DISTINCT video_id FROM fetch_runs") == [(CHANNEL_VIDEO_ID,)]


def test_an_so_video_whose_watch_page_is_blank_is_not_found(logged_in, nico, tmp_path):
    # getflv does not know so… ids; the watch page that should name the thread is empty.
    logged_in.inject("www", b"  \n", content_type="text/html; charset=utf-8", times=1)
    result = fetch(nico, tmp_path / "n.db", CHANNEL_VIDEO_ID)
    assert result.exit_code == 4, result.stderr
    assert result.stderr.startswith(f"Error: {CHANNEL_VIDEO_ID} was not found")


def test_past_logs_for_premium_members_only(sandbox, nico, tmp_path):
    from nicosandbox import MFA_CODE, MFA_EMAIL, MFA_PASSWORD

    sandbox.past_logs_premium_only = True  # as on the old site
    login = nico(
        "login",
        "--email",
        MFA_EMAIL,
        "--password-stdin",
        "--otp",
        MFA_CODE,
        input=MFA_PASSWORD + "\n",
    )
    assert login.exit_code == 0  # a general member
    db = tmp_path / "n.db"
    assert fetch(nico, db, SHORT_VIDEO_ID).exit_code == 0  # the current window is for everyone
    result = fetch(nico, db, SHORT_VIDEO_ID, "--all-history")
    assert result.exit_code == 3
    assert (
        "premium members" in result.stderr and "not (or no longer) logged in" not in result.stderr
    )
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
