"""`nico fetch lv… --all-history` survives what the video fetches survive: `kill -9` at any moment
(resumed by the same command), every fault kind on every live route group, and 20 % faults of
every kind everywhere; each run ends storing exactly the emulator's ground truth."""

from __future__ import annotations

import json
import random
import signal
import time

import pytest

from nicocomments.cli.common import live_client, network
from nicocomments.collect_live import LiveOptions, Progress, collect_program
from nicocomments.config import Endpoints
from nicocomments.store import database
from nicosandbox import FAULT_KINDS, FaultPlan
from nicosandbox.expected import expected_live_comments, expected_live_events
from nicosandbox.liveworld import LIVE_ENDED_ID, LIVE_ENDING_ID, LIVE_LONG_ID, LIVE_ON_AIR_ID
from tests.helpers import kill_again_and_again, pages_stored, query, start_fetch
from tests.live_helpers import by_id, by_no, stored_live_comments, stored_live_events
from tests.reliability import FAULT_OPTIONS, FAULT_SEEDS, KILL_SEED, KILLS, LIVE_GROUPS, fault_plan


def _live_args(program_id: str) -> tuple[str, ...]:
    return (program_id, "--interval", "0", "--live-interval", "0.003")


@pytest.fixture
def frozen(logged_in, world):
    now = world.live_anchor + 100
    logged_in.clock = lambda: now
    return now


def _assert_truth(db, world, program_id, now):
    assert by_no(stored_live_comments(db, program_id)) == by_no(
        expected_live_comments(world, program_id, now=now)
    )
    assert stored_live_events(db, program_id) == by_id(
        expected_live_events(world, program_id, now=now)
    )


def test_killed_again_and_again_then_resumed_it_stores_exactly_the_truth(frozen, tmp_path, world):
    db = tmp_path / "n.db"
    process = kill_again_and_again(
        db, _live_args(LIVE_LONG_ID), kills=KILLS, rng=random.Random(KILL_SEED), most_pages=30
    )
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-2000:]
    _assert_truth(db, world, LIVE_LONG_ID, frozen)
    statuses = [s for (s,) in query(db, "SELECT status FROM fetch_runs ORDER BY id")]
    assert statuses == ["interrupted"] * KILLS + ["completed"]
    [(end,)] = query(db, "SELECT history_end FROM threads WHERE thread_id = ?", LIVE_LONG_ID)
    assert end == "reached the program's beginning"


CASES = [
    pytest.param(group, kind, id=f"{group}-{kind}") for group in LIVE_GROUPS for kind in FAULT_KINDS
]


@pytest.mark.parametrize(("group", "kind"), CASES)
def test_a_fault_of_every_kind_on_every_live_route_group(
    frozen, logged_in, nico, tmp_path, world, group, kind
):
    logged_in.faults = FaultPlan(
        rate=1.0, kinds=(kind,), targets=(group,), limit=1, slow_seconds=0.05
    )
    db = tmp_path / "n.db"
    result = nico(
        "fetch", LIVE_ENDING_ID, "--all-history", "--db", db, "--interval", "0", "--backoff", "0",
        *FAULT_OPTIONS,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert logged_in.stats.fault_kinds[(group, kind)] == 1
    _assert_truth(db, world, LIVE_ENDING_ID, frozen)


@pytest.mark.parametrize("seed", FAULT_SEEDS)
@pytest.mark.parametrize("program_id", [LIVE_ENDED_ID, LIVE_ON_AIR_ID])
def test_twenty_percent_faults_of_every_kind_and_still_exactly_the_truth(
    frozen, logged_in, nico, tmp_path, world, seed, program_id
):
    logged_in.faults = fault_plan(seed)
    db = tmp_path / "n.db"
    result = nico(
        "fetch", program_id, "--all-history", "--db", db, "--interval", "0", "--backoff", "0",
        *FAULT_OPTIONS,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    drawn = {kind for (group, kind) in logged_in.stats.fault_kinds if group in LIVE_GROUPS}
    assert drawn, "no fault fell on a live route group"
    _assert_truth(db, world, program_id, frozen)


def test_every_fault_kind_was_drawn_on_the_live_groups_over_the_seeds(
    frozen, logged_in, nico, tmp_path
):
    """Across the seeded 20 % runs, every kind falls on some live group at least once."""
    drawn: set[str] = set()
    for seed in FAULT_SEEDS:
        logged_in.faults = fault_plan(seed)
        logged_in.reset_stats()
        result = nico(
            "fetch", LIVE_ENDED_ID, "--all-history", "--db", tmp_path / f"{seed}.db",
            "--interval", "0", "--backoff", "0", *FAULT_OPTIONS,
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        drawn |= {kind for (group, kind) in logged_in.stats.fault_kinds if group in LIVE_GROUPS}
    assert drawn == set(FAULT_KINDS)


def test_a_later_run_on_air_catches_up_with_what_was_posted_since(
    frozen, logged_in, nico, tmp_path, world
):
    db = tmp_path / "n.db"
    assert (
        nico("fetch", LIVE_ON_AIR_ID, "--all-history", "--db", db, "--interval", "0").exit_code == 0
    )
    later = frozen + 300
    logged_in.clock = lambda: later
    result = nico("fetch", LIVE_ON_AIR_ID, "--all-history", "--db", db, "--interval", "0")
    assert result.exit_code == 0, result.stderr
    assert "already complete" in result.stdout
    _assert_truth(db, world, LIVE_ON_AIR_ID, later)
    # It walked back only as far as what was stored, not through the whole past again.
    [(pages,)] = query(db, "SELECT pages FROM fetch_runs ORDER BY id DESC LIMIT 1")
    assert pages < 10


def test_killed_on_air_then_resumed_later_it_has_the_past_and_what_came_since(
    frozen, logged_in, tmp_path, world
):
    db = tmp_path / "n.db"
    process = start_fetch(db, *_live_args(LIVE_ON_AIR_ID))
    deadline = time.monotonic() + 60
    while pages_stored(db) < 5 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert process.poll() is None, "the walk ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process.stderr.close()
    [(complete,)] = query(db, "SELECT history_complete FROM threads")
    assert not complete
    later = frozen + 200
    logged_in.clock = lambda: later
    process = start_fetch(db, *_live_args(LIVE_ON_AIR_ID))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-2000:]
    _assert_truth(db, world, LIVE_ON_AIR_ID, later)


def test_the_message_server_refusing_for_a_while_is_waited_out_and_for_good_is_exit_5(
    frozen, logged_in, nico, tmp_path
):
    logged_in.inject("mpn", b"Forbidden", status=403, content_type="text/plain", times=2)
    db = tmp_path / "n.db"
    result = nico(
        "fetch", LIVE_ENDING_ID, "--all-history", "--db", db, "--interval", "0", "--backoff", "0"
    )
    assert result.exit_code == 0, result.stderr
    logged_in.inject("mpn", b"Forbidden", status=403, content_type="text/plain", times=50)
    result = nico(
        "fetch", LIVE_ENDING_ID, "--db", tmp_path / "m.db", "--interval", "0", "--backoff", "0",
        "--retries", "2",
    )  # fmt: skip
    assert result.exit_code == 5
    assert result.stderr.startswith("Error: ") and "HTTP 403" in result.stderr


class _InterruptCatchUp(Progress):
    """Ctrl-C after the catch-up with newer comments has committed ``pages`` answers."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.phase = ""

    def thread_started(self, ref, *, stored, phase) -> None:
        self.phase = phase

    def page(self, ref, *, when, added, stored, server_count) -> None:
        if self.phase == "newer":
            self.pages -= 1
            if self.pages == 0:
                raise KeyboardInterrupt


def test_a_catch_up_interrupted_midway_resumes_and_leaves_no_gap(
    frozen, logged_in, nico, tmp_path, world
):
    """A later run first walks back from now to what was stored; interrupted there, it has
    stored the newest answers but not those between them and the earlier walk. The next run
    must go back for them, not start from the newest stored and stop at once."""
    db = tmp_path / "n.db"
    args = ("--all-history", "--db", db, "--interval", "0")
    assert nico("fetch", LIVE_ON_AIR_ID, *args).exit_code == 0
    later = frozen + 1500  # some 1,400 comments more: many answers to catch up with
    logged_in.clock = lambda: later
    client = live_client(
        network(interval=0, endpoints=Endpoints.from_env()), interval=0, timeout=10
    )
    with database(str(db)) as engine, pytest.raises(KeyboardInterrupt):
        collect_program(
            engine, client, LIVE_ON_AIR_ID, LiveOptions(all_history=True), _InterruptCatchUp(4)
        )
    truth = expected_live_comments(world, LIVE_ON_AIR_ID, now=later)
    newest = max(c["no"] for c in truth)
    stored = {c["no"] for c in stored_live_comments(db, LIVE_ON_AIR_ID)}
    assert newest in stored and len(stored) < len(truth)  # the newest, but a gap below them
    [thread] = json.loads(nico("status", LIVE_ON_AIR_ID, "--db", db, "--json").stdout)
    assert thread["history_complete"] is False  # not while the catch-up is unfinished
    text = " ".join(nico("status", LIVE_ON_AIR_ID, "--db", db).stdout.split())
    assert "catching up" in text and "complete, reached" not in text

    result = nico("fetch", LIVE_ON_AIR_ID, *args)
    assert result.exit_code == 0, result.stderr
    _assert_truth(db, world, LIVE_ON_AIR_ID, later)
    [thread] = json.loads(nico("status", LIVE_ON_AIR_ID, "--db", db, "--json").stdout)
    assert thread["history_complete"] is True and thread["reached_begin"] is True


def test_a_catch_up_that_stops_short_leaves_the_history_incomplete(
    frozen, logged_in, monkeypatch, nico, tmp_path, world
):
    """A catch-up whose walk ends (nothing new, no backward chain) above what was stored before
    has left a gap no answer showed empty: the history is not complete, and the next run walks
    on from where it stopped."""
    import dataclasses

    import nicocomments.collect_live as collect_live
    from nicocomments.live import past

    db = tmp_path / "n.db"
    args = ("--all-history", "--db", db, "--interval", "0")
    assert nico("fetch", LIVE_ON_AIR_ID, *args).exit_code == 0
    later = frozen + 1500
    logged_in.clock = lambda: later
    walk = collect_live.iter_past

    def cut_short(*arguments, **options):
        for number, batch in enumerate(walk(*arguments, **options)):
            if number == 2:
                yield dataclasses.replace(batch, done=past.NOTHING_NEW)
                return
            yield batch

    monkeypatch.setattr(collect_live, "iter_past", cut_short)
    assert nico("fetch", LIVE_ON_AIR_ID, *args).exit_code == 0
    truth = expected_live_comments(world, LIVE_ON_AIR_ID, now=later)
    assert len(stored_live_comments(db, LIVE_ON_AIR_ID)) < len(truth)  # a gap
    [thread] = json.loads(nico("status", LIVE_ON_AIR_ID, "--db", db, "--json").stdout)
    assert thread["history_complete"] is False
    monkeypatch.setattr(collect_live, "iter_past", walk)
    assert nico("fetch", LIVE_ON_AIR_ID, *args).exit_code == 0
    _assert_truth(db, world, LIVE_ON_AIR_ID, later)
    [thread] = json.loads(nico("status", LIVE_ON_AIR_ID, "--db", db, "--json").stdout)
    assert thread["history_complete"] is True


def test_a_catch_up_killed_midway_resumes_and_stores_exactly_the_truth(
    frozen, logged_in, nico, tmp_path, world
):
    db = tmp_path / "n.db"
    args = ("--all-history", "--db", db, "--interval", "0")
    assert nico("fetch", LIVE_ON_AIR_ID, *args).exit_code == 0
    first_pages = pages_stored(db)
    later = frozen + 1500
    logged_in.clock = lambda: later
    # Slow requests (50 ms apart): the kill lands while the catch-up walks back.
    process = start_fetch(db, LIVE_ON_AIR_ID, "--interval", "0", "--live-interval", "0.05")
    deadline = time.monotonic() + 60
    while pages_stored(db) < first_pages + 4 and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process.stderr.close()
    [(catching_up,)] = query(db, "SELECT catchup_when IS NOT NULL FROM threads")
    assert catching_up, "the catch-up ended before it could be killed"
    process = start_fetch(db, *_live_args(LIVE_ON_AIR_ID))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-2000:]
    _assert_truth(db, world, LIVE_ON_AIR_ID, later)
    assert query(db, "SELECT catchup_when, history_complete FROM threads") == [(None, 1)]
