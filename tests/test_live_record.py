"""`nico live record` on an emulated program on air: it follows the segments as the view stream
announces them, keeps its seat on the watch WebSocket, stops at END_PROGRAM, then fills the
past; the database ends holding every comment the program published."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from nicocomments.cli.common import live_client, network
from nicocomments.collect_live import Progress, record_program
from nicocomments.config import Endpoints
from nicocomments.live import ProgramInfo, SeatKeeper, parse_program_info
from nicocomments.store import database
from nicosandbox import Sandbox, build_world
from nicosandbox.expected import expected_live_comments, expected_live_events
from nicosandbox.liveworld import LIVE_ENDED_ID, LIVE_ENDING_ID, LIVE_ON_AIR_ID
from tests.helpers import query
from tests.live_helpers import by_id, by_no, stored_live_comments, stored_live_events


@pytest.fixture
def airing(monkeypatch):
    """A sandbox of its own whose lv1007 is on air and ends about 5 s from now, with 1 s
    segments and a ping every half second (the real clock runs)."""
    world = build_world(live_anchor=int(time.time()) - 3, big_comments=100)
    with Sandbox(world, live_segment_seconds=1, live_ping_seconds=0.5) as sandbox:
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        yield sandbox


def test_record_stores_every_comment_published_while_it_ran_and_the_past(airing, nico, tmp_path):
    program = airing.world.live_programs[LIVE_ENDING_ID]
    assert program.status(time.time()) == "ON_AIR"
    db = tmp_path / "n.db"
    result = nico("live", "record", LIVE_ENDING_ID, "--db", db, "--interval", "0")
    assert result.exit_code == 0, result.stderr
    assert time.time() >= program.end_time  # it followed the program to its end
    assert "the program ended" in result.stdout
    truth = expected_live_comments(airing.world, LIVE_ENDING_ID, now=program.end_time)
    assert by_no(stored_live_comments(db, LIVE_ENDING_ID)) == by_no(truth)
    assert stored_live_events(db, LIVE_ENDING_ID) == by_id(
        expected_live_events(airing.world, LIVE_ENDING_ID, now=program.end_time)
    )
    assert query(db, "SELECT mode, status FROM fetch_runs") == [("record", "completed")]


class _Phases(Progress):
    def __init__(self) -> None:
        self.phase = ""
        self.added: dict[str, int] = {}

    def thread_started(self, ref, *, stored, phase) -> None:
        self.phase = phase

    def page(self, ref, *, when, added, stored, server_count) -> None:
        self.added[self.phase] = self.added.get(self.phase, 0) + added


def test_the_live_phase_stores_what_is_published_while_it_runs(airing, tmp_path):
    program = airing.world.live_programs[LIVE_ENDING_ID]
    started = time.time()
    seats: list[SeatKeeper] = []

    def keep_seat(info: ProgramInfo, ended: threading.Event):
        keeper = SeatKeeper(info.web_socket_url, ended, keep_interval=0.3).start()
        seats.append(keeper)
        return keeper.stop

    phases = _Phases()
    net = network(interval=0, endpoints=Endpoints.from_env())
    client = live_client(net, interval=0.003, timeout=10)
    with database(str(tmp_path / "n.db")) as engine:
        result = record_program(engine, client, LIVE_ENDING_ID, phases, keep_seat=keep_seat)
    assert result.recording_end == "the program ended"
    assert result.end == "reached the program's beginning"
    chats_while_running = [
        m
        for m in program.messages
        if m.kind in ("chat", "overflowed_chat") and started + 1 <= m.moment < program.end_time
    ]
    assert chats_while_running
    # Everything posted after the recording began came through the live phase, not the
    # backfill (a comment of the slice it began in may come either way).
    assert phases.added["live"] >= len(chats_while_running)
    assert phases.added["live"] + phases.added["history"] == result.comments_added
    assert seats and seats[0].error is None and not seats[0]._thread.is_alive()


def test_the_seat_keeper_answers_pings_and_hears_end_program(airing):
    program = airing.world.live_programs[LIVE_ENDING_ID]
    page = requests.get(f"{airing.state.url('live')}/watch/{LIVE_ENDING_ID}", timeout=5)
    info = parse_program_info(page.content)
    ended = threading.Event()
    keeper = SeatKeeper(info.web_socket_url, ended).start()  # the server's seat says 0.5 s
    try:
        assert ended.wait(timeout=program.end_time - time.time() + 3)
        assert time.time() >= program.end_time
        assert keeper.error is None  # pings were answered: the server never gave up on us
    finally:
        keeper.stop()
    received = airing.state.live.socket_messages
    assert received["startWatching"] == 1 and received["pong"] >= 3
    assert received["keepSeat"] >= 3  # as often as the seat message asked, not every 30 s


def test_record_refuses_a_program_that_is_not_on_air(airing, nico, tmp_path):
    result = nico("live", "record", LIVE_ENDED_ID, "--db", tmp_path / "n.db")
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: ") and "is not on air" in result.stderr


def test_ctrl_c_stops_following_then_the_past_is_filled(airing, tmp_path):
    """A first Ctrl-C ends the following; the backfill still runs and the run completes, with
    every comment published until then stored."""
    db = tmp_path / "n.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "nicocomments", "live", "record", LIVE_ON_AIR_ID, "--db", str(db),
         "--interval", "0", "--live-interval", "0.003"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if query(db, "SELECT count(*) FROM comments")[0][0] > 0:
                break
        except Exception:  # not created yet
            pass
        time.sleep(0.05)
    time.sleep(1.5)  # a segment or two more
    stopped_at = time.time()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-2000:]
    assert "recorded until stopped early" in stdout
    assert "reached the program's beginning" in stdout
    stored = {c["message_id"] for c in stored_live_comments(db, LIVE_ON_AIR_ID)}
    # Everything published before the Ctrl-C (the last second's may still be in flight) …
    before = expected_live_comments(airing.world, LIVE_ON_AIR_ID, now=stopped_at - 1)
    assert {c["message_id"] for c in before} <= stored
    # … and nothing that was not published by the end of the run.
    after = expected_live_comments(airing.world, LIVE_ON_AIR_ID, now=time.time())
    assert stored <= {c["message_id"] for c in after}
    assert query(db, "SELECT mode, status FROM fetch_runs") == [("record", "completed")]


def test_a_view_stream_whose_next_at_stops_advancing_ends_the_following(airing, tmp_path):
    """A message server naming the same ``next.at`` again and again would be asked forever:
    the following ends after a few such answers, says so, and the past is still filled."""
    airing.live_next_stuck = True
    stop = threading.Event()
    outcome: list = []
    net = network(interval=0, endpoints=Endpoints.from_env())
    client = live_client(net, interval=0.003, timeout=10)

    def run() -> None:
        with database(str(tmp_path / "n.db")) as engine:
            outcome.append(record_program(engine, client, LIVE_ON_AIR_ID, stop=stop))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=30)
    spinning = thread.is_alive()
    stop.set()  # (only matters when the loop never ended by itself)
    thread.join(timeout=60)
    assert not spinning, "the recording kept asking the same next.at"
    [result] = outcome
    assert result.recording_end == "the message server's stream stopped advancing"
    assert result.end == "reached the program's beginning"
    now = time.time()
    stored = {c["message_id"] for c in stored_live_comments(tmp_path / "n.db", LIVE_ON_AIR_ID)}
    before = expected_live_comments(airing.world, LIVE_ON_AIR_ID, now=now - 30)
    assert {c["message_id"] for c in before} <= stored
