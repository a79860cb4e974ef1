"""`nico fetch lv…` against the emulator's live surface, over real HTTP and a real WebSocket on
loopback: every program kind stored exactly as the emulator's ground truth says, timeshifts
reserved (or refused with the documented exit codes), the WebSocket's failures made clear."""

from __future__ import annotations

import json
import re

import pytest

from nicosandbox import MFA_EMAIL
from nicosandbox.expected import expected_live_comments, expected_live_events
from nicosandbox.liveworld import (
    LIVE_ENDED_ID,
    LIVE_ENDING_ID,
    LIVE_EXPIRED_ID,
    LIVE_LONG_ID,
    LIVE_NO_TIMESHIFT_ID,
    LIVE_ON_AIR_ID,
    LIVE_PREMIUM_ID,
)
from tests.helpers import query
from tests.live_helpers import by_id, by_no, session_for, stored_live_comments, stored_live_events

PROGRAMS = [LIVE_ON_AIR_ID, LIVE_ENDED_ID, LIVE_PREMIUM_ID, LIVE_LONG_ID, LIVE_ENDING_ID]


@pytest.fixture
def frozen(logged_in, world):
    """The logged-in sandbox with its clock stopped 100 s after the live anchor: lv1001 on
    air, lv1007 ended, the truth fixed."""
    now = world.live_anchor + 100
    logged_in.clock = lambda: now
    return now


@pytest.mark.parametrize("program_id", PROGRAMS)
def test_all_history_stores_exactly_the_truth(frozen, nico, tmp_path, world, program_id):
    db = tmp_path / "n.db"
    result = nico("fetch", program_id, "--all-history", "--db", db, "--interval", "0")
    assert result.exit_code == 0, result.stderr
    truth = expected_live_comments(world, program_id, now=frozen)
    assert by_no(stored_live_comments(db, program_id)) == by_no(truth)
    assert stored_live_events(db, program_id) == by_id(
        expected_live_events(world, program_id, now=frozen)
    )
    [(complete, end)] = query(
        db, "SELECT history_complete, history_end FROM threads WHERE thread_id = ?", program_id
    )
    assert complete == 1 and end == "reached the program's beginning"
    assert "reached the program's beginning" in result.stdout
    # Nothing left unread: a walk that read everything reports no skipped seconds.
    assert query(db, "SELECT from_second, to_second FROM skipped_seconds") == []


def test_the_long_program_needs_reseeding_and_its_kinds_of_messages_all_arrive(
    frozen, nico, tmp_path, world
):
    program = world.live_programs[LIVE_LONG_ID]
    assert len(program.messages) >= 40_000
    db = tmp_path / "n.db"
    result = nico("fetch", LIVE_LONG_ID, "--all-history", "--db", db, "--interval", "0")
    assert result.exit_code == 0, result.stderr
    stored = stored_live_comments(db, LIVE_LONG_ID)
    assert len(stored) > 35_000
    assert any(c["is_overflowed"] for c in stored) and any(c["name"] for c in stored)
    assert {e["kind"] for e in stored_live_events(db, LIVE_LONG_ID)} == {
        "gift",
        "simple_notification",
        "nicoad",
    }
    # 40 answers to a chain, 100 messages each: the walk re-seeded many times over.
    [(pages,)] = query(db, "SELECT pages FROM fetch_runs")
    assert pages > 400


def test_without_all_history_the_newest_segments_only(frozen, nico, tmp_path, world):
    db = tmp_path / "n.db"
    result = nico("fetch", LIVE_ON_AIR_ID, "--db", db, "--interval", "0")
    assert result.exit_code == 0, result.stderr
    stored = stored_live_comments(db, LIVE_ON_AIR_ID)
    truth = expected_live_comments(world, LIVE_ON_AIR_ID, now=frozen)
    # The slice holding now and the one before it (4 s slices from the opening).
    program = world.live_programs[LIVE_ON_AIR_ID]
    start = program.open_time + (frozen - program.open_time) // 4 * 4
    newest = [c for c in truth if start - 4 <= c["posted_at"] < start + 4]
    assert by_no(stored) == by_no(newest)
    assert 0 < len(stored) < len(truth)


def test_fetching_again_adds_nothing_and_a_second_reservation_is_duplicated(frozen, nico, tmp_path):
    db = tmp_path / "n.db"
    for _ in range(2):
        result = nico("fetch", LIVE_ENDED_ID, "--all-history", "--db", db, "--interval", "0")
        assert result.exit_code == 0, result.stderr
    assert "0 new comments" in result.stdout and "already complete" in result.stdout


def test_a_watch_url_works_like_the_id(frozen, nico, tmp_path, world):
    db = tmp_path / "n.db"
    url = f"https://live.nicovideo.jp/watch/{LIVE_ENDING_ID}"
    result = nico("fetch", url, "--all-history", "--db", db, "--interval", "0")
    assert result.exit_code == 0, result.stderr
    assert len(stored_live_comments(db, LIVE_ENDING_ID)) == len(
        expected_live_comments(world, LIVE_ENDING_ID, now=frozen)
    )


@pytest.mark.parametrize(
    ("program_id", "account", "exit_code", "message"),
    [
        (LIVE_ENDED_ID, None, 3, "needs a logged-in session"),
        (LIVE_PREMIUM_ID, MFA_EMAIL, 3, "premium members only"),
        (LIVE_EXPIRED_ID, MFA_EMAIL, 4, "timeshift window of lv1004 has expired"),
        (LIVE_NO_TIMESHIFT_ID, MFA_EMAIL, 4, "lv1005 has no timeshift"),
        ("lv99999", None, 4, "lv99999 does not exist"),
    ],
)
def test_timeshift_refusals_have_their_exit_codes(
    sandbox, nico, tmp_path, monkeypatch, program_id, account, exit_code, message
):
    if account is not None:
        monkeypatch.setenv("NICO_USER_SESSION", session_for(sandbox, account))
    result = nico("fetch", program_id, "--all-history", "--db", tmp_path / "n.db")
    assert result.exit_code == exit_code
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_general_account_may_watch_a_free_timeshift(sandbox, nico, tmp_path, monkeypatch):
    monkeypatch.setenv("NICO_USER_SESSION", session_for(sandbox, MFA_EMAIL))
    result = nico("fetch", LIVE_ENDED_ID, "--db", tmp_path / "n.db", "--interval", "0")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("silent", "named no message server within 1 s"),
        ("close", "closed before naming the message server"),
    ],
)
def test_a_websocket_that_never_answers_or_closes_is_a_clear_error(
    sandbox, nico, tmp_path, mode, message
):
    sandbox.live_socket = mode
    result = nico("fetch", LIVE_ON_AIR_ID, "--db", tmp_path / "n.db", "--timeout", "1")
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "audience_token" not in result.stderr  # the token stays out of messages


def test_status_calls_gaps_in_no_filtered_and_says_whether_the_walk_reached_the_begin(
    frozen, nico, tmp_path, world
):
    db = tmp_path / "n.db"
    assert (
        nico("fetch", LIVE_ENDED_ID, "--all-history", "--db", db, "--interval", "0").exit_code == 0
    )
    result = nico("status", LIVE_ENDED_ID, "--db", db)
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "not published (filtered)" in text and "they are not losses" in text
    assert "reach the begin time" in text and "do not reach" not in text
    assert not re.search(r"missing \d", text)
    as_json = nico("status", LIVE_ENDED_ID, "--db", db, "--json")
    [thread] = json.loads(as_json.stdout)
    assert thread["reached_begin"] is True and thread["missing_are"] == "filtered"
    truth = expected_live_comments(world, LIVE_ENDED_ID, now=frozen)
    nos = {c["no"] for c in truth}
    filtered = set(range(1, max(nos) + 1)) - nos
    assert filtered and sum(b - a + 1 for a, b in thread["missing"]) == len(filtered)


def test_both_backends_store_the_truth_and_a_second_run_adds_nothing(
    frozen, nico, db_target, world
):
    from sqlalchemy import create_engine, text

    for _ in range(2):
        result = nico(
            "fetch", LIVE_ENDING_ID, "--all-history", "--db", db_target, "--interval", "0"
        )
        assert result.exit_code == 0, result.stderr
    url = db_target if "://" in db_target else f"sqlite:///{db_target}"
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT no, message_id, commands, is_overflowed, name FROM comments "
                "WHERE thread_id = :p ORDER BY no"
            ),
            {"p": LIVE_ENDING_ID},
        ).all()
        events = connection.execute(
            text("SELECT count(*) FROM live_events WHERE video_id = :p"), {"p": LIVE_ENDING_ID}
        ).scalar()
    engine.dispose()
    truth = by_no(expected_live_comments(world, LIVE_ENDING_ID, now=frozen))
    assert [tuple(row) for row in stored] == [
        (c["no"], c["message_id"], c["commands"], c["is_overflowed"], c["name"]) for c in truth
    ]
    assert events == len(expected_live_events(world, LIVE_ENDING_ID, now=frozen))


def test_status_of_a_program_with_only_its_newest_segments(frozen, nico, tmp_path):
    db = tmp_path / "n.db"
    assert nico("fetch", LIVE_ON_AIR_ID, "--db", db, "--interval", "0").exit_code == 0
    result = nico("status", LIVE_ON_AIR_ID, "--db", db)
    text = " ".join(result.stdout.split())
    assert "newest segments only" in text
    assert "the stored comments do not reach the begin time" in text
    [thread] = json.loads(nico("status", LIVE_ON_AIR_ID, "--db", db, "--json").stdout)
    assert thread["reached_begin"] is False and thread["history_complete"] is False


@pytest.mark.parametrize(
    "body",
    [
        b'{"meta": "refused"}',  # meta not an object
        b'{"meta": ["NO_PERMISSION"]}',
        b'{"meta": {"errorCode": 403, "errorMessage": ["x"]}}',  # members of the wrong types
        b'["meta"]',  # not an object at all
        b"<html>Forbidden</html>",  # not JSON
    ],
)
@pytest.mark.parametrize(("status", "exit_code"), [(403, 4), (401, 3)])
def test_a_timeshift_refusal_with_a_malformed_error_body_is_refused_not_a_bug(
    sandbox, nico, tmp_path, monkeypatch, body, status, exit_code
):
    monkeypatch.setenv("NICO_USER_SESSION", session_for(sandbox, MFA_EMAIL))
    sandbox.inject("live2", body, status=status, content_type="application/json")
    result = nico("fetch", LIVE_ENDED_ID, "--all-history", "--db", tmp_path / "n.db")
    assert result.exit_code == exit_code, result.stderr
    assert result.stderr.startswith("Error: ") and f"HTTP {status}" in result.stderr
    assert "Traceback" not in result.stderr and "--debug" not in result.stderr


def test_a_walk_that_stops_short_of_the_beginning_is_not_called_complete(
    frozen, nico, tmp_path, world, monkeypatch
):
    """Only reaching the program's first moment proves the history complete. The emulator's
    first comment comes after the begin time (as on real programs): with too few rounds allowed
    to read the quiet slices down to the opening, the walk ends without that proof, says so,
    and the next run walks on to the beginning."""
    from nicocomments.live import past

    monkeypatch.setattr(past, "QUIET_ROUNDS", 2)
    db = tmp_path / "n.db"
    result = nico("fetch", LIVE_ENDED_ID, "--all-history", "--db", db, "--interval", "0")
    assert result.exit_code == 0, result.stderr
    assert "stopped short of the program's beginning" in result.stdout
    [(complete, end)] = query(db, "SELECT history_complete, history_end FROM threads")
    assert not complete and end == past.NOTHING_NEW
    text = " ".join(nico("status", LIVE_ENDED_ID, "--db", db).stdout.split())
    assert "stopped short of the begin time" in text and "do not reach the begin time" in text
    [thread] = json.loads(nico("status", LIVE_ENDED_ID, "--db", db, "--json").stdout)
    assert thread["reached_begin"] is False and thread["history_complete"] is False

    monkeypatch.setattr(past, "QUIET_ROUNDS", 200)
    result = nico("fetch", LIVE_ENDED_ID, "--all-history", "--db", db, "--interval", "0")
    assert result.exit_code == 0, result.stderr
    assert "reached the program's beginning" in result.stdout
    assert query(db, "SELECT history_complete, history_end FROM threads") == [
        (1, past.REACHED_BEGIN)
    ]
    truth = expected_live_comments(world, LIVE_ENDED_ID, now=frozen)
    assert by_no(stored_live_comments(db, LIVE_ENDED_ID)) == by_no(truth)


def test_refresh_walks_a_complete_history_again(frozen, nico, tmp_path, world):
    db = tmp_path / "n.db"
    args = ("fetch", LIVE_ENDING_ID, "--all-history", "--db", db, "--interval", "0")
    assert nico(*args).exit_code == 0
    query(db, "DELETE FROM comments WHERE no <= 20")  # lost here, still on the server
    result = nico(*args, "--refresh")
    assert result.exit_code == 0, result.stderr
    assert "already complete" not in result.stdout
    assert "reached the program's beginning" in result.stdout
    truth = expected_live_comments(world, LIVE_ENDING_ID, now=frozen)
    assert by_no(stored_live_comments(db, LIVE_ENDING_ID)) == by_no(truth)
    assert query(db, "SELECT history_complete, catchup_when FROM threads") == [(1, None)]
