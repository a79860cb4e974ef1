"""Re-crawling a video after the emulator made it "later" (`nicosandbox.make_later`): the
observations `nico fetch` records, over real HTTP on loopback, against the ground truth
(`nicosandbox.expected_observations`)."""

from __future__ import annotations

import json

import pytest

from nicosandbox import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    MEDIUM_VIDEO_ID,
    Sandbox,
    build_world,
    expected_comments,
    expected_observations,
    make_later,
)
from tests.helpers import query, sorted_truth, stored_comments

FAST = ("--interval", "0", "--backoff", "0")


@pytest.fixture
def own_sandbox(nico, monkeypatch):
    """A sandbox of its own: `make_later` changes its world."""
    sandbox = Sandbox(world=build_world(big_comments=2_000), rate_limit_per_minute=None).start()
    try:
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        login = nico("login", "--email", DEMO_EMAIL, "--password-stdin", input=DEMO_PASSWORD + "\n")
        assert login.exit_code == 0, login.stderr
        yield sandbox
    finally:
        sandbox.stop()


def recorded(db, run_id: int) -> dict[str, dict]:
    """The observations in the database, arranged like `expected_observations`: each changed
    comment → its states, oldest first; a comment's kind is what its last state changed."""
    rows = query(
        db,
        "SELECT c.thread_id, c.fork, c.no, o.nicoru_count, o.score, o.is_deleted, o.run_id "
        "FROM comment_observations o JOIN comments c ON c.id = o.comment_row_id ORDER BY o.id",
    )
    states: dict[tuple, list] = {}
    for thread_id, fork, no, nicoru, score, deleted, run in rows:
        states.setdefault((thread_id, fork, no), []).append((nicoru, score, bool(deleted), run))
    out: dict[str, dict] = {"deleted": {}, "nicoru_changed": {}, "score_changed": {}}
    for key, seen in states.items():
        assert seen[-1][3] == run_id, key  # the change was seen by the re-crawl
        (old_nicoru, _, _, _), (nicoru, _, deleted, _) = seen[-2], seen[-1]
        kind = (
            "deleted" if deleted else "nicoru_changed" if nicoru != old_nicoru else "score_changed"
        )
        out[kind][key] = [state[:3] for state in seen]
    added = query(db, "SELECT thread_id, fork, no FROM comments WHERE run_id = ?", run_id)
    out["added"] = {tuple(row): [] for row in added}
    return out


@pytest.mark.parametrize("protocol", ["nvcomment", "legacy"])
def test_a_recrawl_records_exactly_what_changed(own_sandbox, nico, tmp_path, protocol):
    db = tmp_path / "n.db"
    video = MEDIUM_VIDEO_ID
    first = nico("fetch", video, "--all-history", "--protocol", protocol, "--db", db, *FAST)
    assert first.exit_code == 0, first.stderr
    # Nothing changed yet: a complete re-crawl adds no row at all.
    before = query(db, "SELECT count(*) FROM comments")
    again = nico(
        "fetch", video, "--all-history", "--refresh", "--protocol", protocol, "--db", db, *FAST
    )
    assert again.exit_code == 0, again.stderr
    assert query(db, "SELECT count(*) FROM comments") == before
    assert query(db, "SELECT count(*) FROM comment_observations") == [(0,)]

    later = make_later(own_sandbox.world, video, seed=3)
    result = nico(
        "fetch", video, "--all-history", "--refresh", "--protocol", protocol, "--db", db, *FAST
    )
    assert result.exit_code == 0, result.stderr
    (run_id,) = query(db, "SELECT max(id) FROM fetch_runs")[0]
    truth = expected_observations(later, protocol)
    assert recorded(db, run_id) == truth
    assert len(truth["deleted"]) == 12 and len(truth["nicoru_changed"]) == 20
    # The comments rows show the latest state; deleted ones keep their text.
    stored = {(c.thread_id, c.fork, c.no): c for c in stored_comments(db, video)}
    for key in truth["deleted"]:
        assert stored[key].is_deleted and stored[key].content
    fields = ("nicoru_count", "score")
    latest = expected_comments(own_sandbox.world, video, protocol)
    if protocol == "nvcomment":
        latest += [c for c in expected_comments(own_sandbox.world, video, protocol, forks=["ai"])]
    for comment in sorted_truth(latest):
        key = (comment.thread_id, comment.fork, comment.no)
        if not comment.is_deleted:
            assert [getattr(stored[key], f) for f in fields] == [
                getattr(comment, f) for f in fields
            ]
    # nico diff says the same, per kind.
    shown = nico("diff", video, "--format", "json", "--db", db)
    assert shown.exit_code == 0, shown.stderr
    payload = json.loads(shown.stdout)
    for kind, comments in truth.items():
        listed = {(c["thread_id"], c["fork"], c["no"]) for c in payload[kind]["comments"]}
        assert payload[kind]["count"] == len(comments) and listed == set(comments), (
            kind,
            set(comments) - listed,
            [truth[kind][k] for k in set(comments) - listed],
        )
    for c in payload["nicoru_changed"]["comments"]:
        key = (c["thread_id"], c["fork"], c["no"])
        assert [c["nicoru_before"], c["nicoru_after"]] == [
            s[0] for s in truth["nicoru_changed"][key]
        ]
    reasons = {c["deleted_reason"] for c in payload["deleted"]["comments"]}
    # nvcomment leaves them out (no longer served); legacy says who deleted them.
    assert reasons == ({None} if protocol == "nvcomment" else {1})
    if protocol == "nvcomment":
        assert payload["added"]["by_fork"] == {"ai": 15}
    # A second complete re-crawl of the unchanged "later" video adds nothing.
    count = query(db, "SELECT count(*) FROM comment_observations")
    nico("fetch", video, "--all-history", "--refresh", "--protocol", protocol, "--db", db, *FAST)
    assert query(db, "SELECT count(*) FROM comment_observations") == count


def test_one_window_never_says_a_comment_is_gone(own_sandbox, nico, tmp_path):
    """Today's server leaves deleted comments out: only a complete pass may conclude that."""
    db = tmp_path / "n.db"
    video = MEDIUM_VIDEO_ID
    assert nico("fetch", video, "--all-history", "--db", db, *FAST).exit_code == 0
    later = make_later(own_sandbox.world, video, seed=5, deletions=40, new_fork=None)
    assert nico("fetch", video, "--db", db, *FAST).exit_code == 0  # the current window only
    assert query(db, "SELECT count(*) FROM comment_observations WHERE is_deleted") == [(0,)]
    assert query(db, "SELECT count(*) FROM comments WHERE is_deleted") == [(0,)]
    # Changes the window did show are recorded.
    changed = query(db, "SELECT count(DISTINCT comment_row_id) FROM comment_observations")[0][0]
    assert 0 < changed <= len(later.nicoru) + len(later.score)


def test_the_answers_voltage_zone_is_kept_raw(own_sandbox, nico, tmp_path):
    zone = {"zones": [{"startMs": 0, "endMs": 30_000, "level": 3}], "version": "2025-x"}
    own_sandbox.voltage_zone = zone
    db = tmp_path / "n.db"
    assert nico("fetch", MEDIUM_VIDEO_ID, "--db", db, *FAST).exit_code == 0
    (stored,) = query(db, "SELECT voltage_zone FROM videos WHERE video_id = ?", MEDIUM_VIDEO_ID)
    assert json.loads(stored[0]) == zone
    from nicocomments.analysis import load_videos

    assert json.loads(load_videos(str(db), MEDIUM_VIDEO_ID)["voltage_zone"].iloc[0]) == zone
