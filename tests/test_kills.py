"""`kill -9` at any moment loses at most the page in flight: a whole-history fetch is killed
again and again, at seeded random moments, each time resumed by the same command, and ends
storing exactly the truth, for both protocols."""

from __future__ import annotations

import random

import pytest

from nicosandbox import BIG_VIDEO_ID, expected_comments
from tests.helpers import kill_again_and_again, query, sorted_truth, stored_comments
from tests.reliability import KILL_SEED, KILLS


@pytest.mark.parametrize("protocol", ["legacy", "nvcomment"])
def test_killed_again_and_again_then_resumed_it_stores_exactly_the_truth(
    logged_in, tmp_path, world, protocol
):
    db = tmp_path / "n.db"
    process = kill_again_and_again(
        db,
        (BIG_VIDEO_ID, "--protocol", protocol, "--interval", "0.02"),
        kills=KILLS,
        rng=random.Random(KILL_SEED),
        most_pages=4,
    )
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
