"""Re-crawling a video after the emulator made it "later" (`nicosandbox.make_later`): the
observations `nico fetch` records, over real HTTP on loopback, against the ground truth
(`nicosandbox.expected_observations`)."""

from __future__ import annotations

import json

import pytest

from nicosandbox import (
    BIG_THREAD_ID,
    BIG_VIDEO_ID,
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


def _nvcomment_edit(fork: str, answer: int, keep):
    """Change the ``answer``-th answer (1: the first) for ``fork``: its comments become
    ``keep(comments)``; answers for other forks, and earlier ones, go out as they are."""
    seen = []

    def edit(body: bytes) -> bytes | None:
        payload = json.loads(body)
        [thread] = payload["data"]["threads"]
        if thread["fork"] != fork:
            return None
        seen.append(thread["fork"])
        if len(seen) < answer:
            return None
        thread["comments"] = keep(thread["comments"])
        return json.dumps(payload, ensure_ascii=False).encode()

    return edit


def _nothing(comments):
    return []


def _newest_five(comments):
    return comments[-5:]


def _unserved(db) -> list[tuple]:
    return query(
        db,
        "SELECT c.fork, count(*) FROM comment_observations o JOIN comments c "
        "ON c.id = o.comment_row_id WHERE o.is_deleted GROUP BY c.fork ORDER BY c.fork",
    )


# fork, which answer of the refresh, what it keeps: an empty first page, an empty answer in
# the middle of the walk (the first page held 1,000 of main's 2,000), a cut owner answer.
BAD_ANSWERS = {
    "main: empty first page": ("main", 1, _nothing),
    "main: empty second page": ("main", 2, _nothing),
    "owner: empty answer": ("owner", 1, _nothing),
    "owner: the newest five only": ("owner", 1, _newest_five),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_an_empty_or_cut_answer_never_says_comments_are_gone(own_sandbox, nico, tmp_path, case):
    """A complete pass concludes "no longer served" only from answers that held comments: the
    emulator deleted nothing, so a refresh whose walk meets an empty (or cut) answer marks
    nothing deleted, however many stored comments that answer left out."""
    fork, answer, keep = BAD_ANSWERS[case]
    db = tmp_path / "n.db"
    first = nico("fetch", BIG_VIDEO_ID, "--all-history", "--db", db, *FAST)
    assert first.exit_code == 0, first.stderr
    stored = dict(query(db, "SELECT fork, count(*) FROM comments GROUP BY fork"))
    assert stored["owner"] == 20 and stored["main"] > 1000 and stored["easy"]  # two main pages
    own_sandbox.tamper("nvcomment", _nvcomment_edit(fork, answer, keep))

    result = nico("fetch", BIG_VIDEO_ID, "--all-history", "--refresh", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert own_sandbox.stats.injected["nvcomment"] == 1  # the bad answer was sent
    assert _unserved(db) == []
    assert query(db, "SELECT count(*) FROM comments WHERE is_deleted") == [(0,)]
    assert "no longer served" not in result.stdout


def test_a_walk_ending_on_an_empty_answer_concludes_only_what_it_covered(
    own_sandbox, nico, tmp_path
):
    """Comment no 1 deleted: today's server leaves it out, so the walk never reaches it and
    ends on an empty answer. The comments the walk's pages covered and no longer hold are
    concluded; comment no 1, which only the empty answer left out, is not. An owner answer
    running from no 1 to the newest is whole: what it leaves out is concluded."""
    db = tmp_path / "n.db"
    assert nico("fetch", BIG_VIDEO_ID, "--all-history", "--db", db, *FAST).exit_code == 0
    table = own_sandbox.world.threads[(BIG_THREAD_ID, "main")].comments
    for no in (1, 700, 1500):
        table.deleted[table.nos.index(no)] = 1
    owner = own_sandbox.world.threads[(BIG_THREAD_ID, "owner")].comments
    owner.deleted[owner.nos.index(5)] = 1

    result = nico("fetch", BIG_VIDEO_ID, "--all-history", "--refresh", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert query(db, "SELECT history_end FROM threads WHERE fork = 'main'") == [
        ("the server returned no older comments",)
    ]
    deleted = "SELECT fork, no FROM comments WHERE is_deleted ORDER BY fork, no"
    assert query(db, deleted) == [("main", 700), ("main", 1500), ("owner", 5)]
    assert "3 no longer served" in result.stdout


def test_the_answers_voltage_zone_is_kept_raw(own_sandbox, nico, tmp_path):
    zone = {"zones": [{"startMs": 0, "endMs": 30_000, "level": 3}], "version": "2025-x"}
    own_sandbox.voltage_zone = zone
    db = tmp_path / "n.db"
    assert nico("fetch", MEDIUM_VIDEO_ID, "--db", db, *FAST).exit_code == 0
    (stored,) = query(db, "SELECT voltage_zone FROM videos WHERE video_id = ?", MEDIUM_VIDEO_ID)
    assert json.loads(stored[0]) == zone
    from nicocomments.analysis import load_videos

    assert json.loads(load_videos(str(db), MEDIUM_VIDEO_ID)["voltage_zone"].iloc[0]) == zone
