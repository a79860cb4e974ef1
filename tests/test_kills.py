"""`kill -9` at any moment loses at most the page in flight: a whole-history fetch is killed
again and again, at seeded random moments, each time resumed by the same command, and ends
storing exactly the truth, for both protocols."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from nicosandbox import BIG_VIDEO_ID, expected_comments
from tests.helpers import query, sorted_truth, stored_comments
from tests.reliability import KILL_SEED, KILLS


def _start(db, protocol):
    return subprocess.Popen(
        [sys.executable, "-m", "nicocomments", "fetch", BIG_VIDEO_ID, "--all-history", "--db",
         str(db), "--protocol", protocol, "--interval", "0.02", "--backoff", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )  # fmt: skip


def _pages(db) -> int:
    try:
        return query(db, "SELECT coalesce(sum(pages), 0) FROM fetch_runs")[0][0]
    except Exception:  # not created yet, or locked for a moment
        return 0


@pytest.mark.parametrize("protocol", ["legacy", "nvcomment"])
def test_killed_again_and_again_then_resumed_it_stores_exactly_the_truth(
    logged_in, tmp_path, world, protocol
):
    rng = random.Random(KILL_SEED)
    db = tmp_path / "n.db"
    kills = 0
    while kills < KILLS:
        process = _start(db, protocol)
        target = _pages(db) + rng.randint(1, 4)
        deadline = time.monotonic() + 60
        while _pages(db) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.001, 0.02))
        if process.poll() is not None:  # it finished before its kill: the walk is too short
            pytest.fail(f"the fetch ended after {kills} kills: {process.stderr.read()[-500:]}")
        time.sleep(rng.uniform(0, 0.05))  # anywhere in a page, not only just after one
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process.stderr.close()
        kills += 1
    process = _start(db, protocol)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-2000:]
    truth = sorted_truth(expected_comments(world, BIG_VIDEO_ID, protocol))
    stored = stored_comments(db, BIG_VIDEO_ID)
    if protocol == "nvcomment":
        stored = [c._replace(source=None) for c in stored]
        truth = [c._replace(source=None) for c in truth]
    assert stored == truth
    statuses = [s for (s,) in query(db, "SELECT status FROM fetch_runs ORDER BY id")]
    assert statuses == ["interrupted"] * KILLS + ["completed"]
