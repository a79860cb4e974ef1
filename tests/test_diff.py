"""`nico diff` and the pandas side of change tracking (`load_observations`,
`observation_series`, `diff_video`), on databases written through the store."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from nicocomments import analysis as na
from nicocomments import store
from tests.test_observations import THREAD, _comment, _crawl, _engine


@pytest.fixture
def changed_db(db_target):
    """Three runs of sm9 (SQLite and PostgreSQL): the first stores 1-5; the second sees 2
    deleted, 3 nicoru'd and adds 6; the third sees 4's score fall and 3 nicoru'd again."""
    path = db_target
    engine = _engine(str(path))
    runs = [_crawl(engine, [_comment(no, nicoru=1) for no in range(1, 6)])[0]]
    runs.append(
        _crawl(
            engine,
            [
                _comment(1, nicoru=1),
                _comment(2, deleted=True),
                _comment(3, nicoru=4),
                _comment(6),
            ],
        )[0]
    )
    runs.append(_crawl(engine, [_comment(3, nicoru=9), _comment(4, nicoru=1, score=-1000)])[0])
    engine.dispose()
    return path, runs


def _counts(**nonzero: int) -> dict[str, int]:
    """Counts per change kind, as `Changes.counts` gives them: 0 but for those named."""
    return {kind: nonzero.get(kind, 0) for kind in na.CHANGE_KINDS}


def _keys(changes, kind):
    return [row["no"] for row in changes.records(kind)]


def test_diff_video_between_runs(changed_db):
    path, (first, second, third) = changed_db
    everything = na.diff_video(str(path), "sm9")
    assert everything.counts() == _counts(added=1, deleted=1, nicoru_changed=1, score_changed=1)
    assert _keys(everything, "added") == [6]
    assert _keys(everything, "deleted") == [2]
    (nicoru,) = everything.records("nicoru_changed")
    assert (nicoru["no"], nicoru["nicoru_before"], nicoru["nicoru_after"]) == (3, 1, 9)
    (score,) = everything.records("score_changed")
    assert (score["no"], score["score_before"], score["score_after"]) == (4, 0, -1000)
    assert score["run_id"] == third and score["seen_at"]
    # Only what the second run saw.
    middle = na.diff_video(str(path), "sm9", runs=(first, second))
    assert middle.counts() == _counts(added=1, deleted=1, nicoru_changed=1)
    assert middle.records("nicoru_changed")[0]["nicoru_after"] == 4
    # Only what the third run saw.
    last = na.diff_video(str(path), "sm9", runs=(second, None))
    assert last.counts() == _counts(nicoru_changed=1, score_changed=1)
    assert last.by_fork().loc["main"].to_dict() == _counts(nicoru_changed=1, score_changed=1)
    # Since a moment after every run: nothing.
    assert sum(na.diff_video(str(path), "sm9", since=datetime.now(UTC)).counts().values()) == 0


def test_load_observations_and_series(changed_db):
    path, (_first, _second, _third) = changed_db
    obs = na.load_observations(str(path), "sm9")
    assert list(obs.columns) == list(na.OBSERVATION_DTYPES)
    assert {str(k): str(v) for k, v in obs.dtypes.items()} == {
        k: str(v) for k, v in na.OBSERVATION_DTYPES.items()
    }
    assert obs.groupby("no").size().to_dict() == {2: 2, 3: 3, 4: 2}
    assert obs[obs["no"] == 3]["nicoru_count"].tolist() == [1, 4, 9]
    series = na.observation_series(obs, "nicoru_count")
    assert series.iloc[-1].to_dict() == {
        "main/1173108780/2": 1,
        "main/1173108780/3": 9,
        "main/1173108780/4": 1,
    }
    total = na.observation_series(obs, "score", total=True)
    assert total["total"].iloc[-1] == -1000
    with pytest.raises(Exception, match="nicoru_count or score"):
        na.observation_series(obs, "content")
    assert na.load_observations(str(path), "sm404").empty


def test_nico_diff_formats(nico, changed_db):
    path, (first, second, _third) = changed_db
    table = nico("diff", "sm9", "--db", path)
    assert table.exit_code == 0, table.stderr
    assert "nicoru changed" in table.stdout and "1 → 9" in table.stdout
    assert "1 added, 1 deleted, 0 restored, 1 nicoru changed, 1 score changed" in table.stderr
    shown = nico("diff", "sm9", "--runs", f"{first}..{second}", "--format", "json", "--db", path)
    payload = json.loads(shown.stdout)
    assert set(payload) >= {"added", "deleted", "restored", "nicoru_changed", "score_changed"}
    assert payload["deleted"]["count"] == 1 and payload["deleted"]["by_fork"] == {"main": 1}
    assert payload["deleted"]["comments"][0]["content"] == "コメント2"
    assert payload["deleted"]["comments"][0]["deleted_reason"] == 1  # said by the server
    assert payload["score_changed"] == {"count": 0, "by_fork": {}, "comments": []}
    rows = list(
        csv.DictReader(io.StringIO(nico("diff", "sm9", "--format", "csv", "--db", path).stdout))
    )
    assert sorted((r["change"], r["no"]) for r in rows) == [
        ("added", "6"),
        ("deleted", "2"),
        ("nicoru_changed", "3"),
        ("score_changed", "4"),
    ]
    assert rows[0]["thread_id"] == THREAD


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("sm404",), 4, "sm404 is not in"),
        (("sm9", "--runs", "3"), 2, "--runs takes A..B"),
        (("sm9", "--runs", "5..2"), 2, "must not be after"),
        (("sm9", "--runs", "1..2", "--since", "2020-01-01"), 2, "not both"),
        (("sm9", "--since", "yesterday"), 2, "cannot read the date"),
    ],
)
def test_nico_diff_refuses_bad_input(nico, changed_db, args, code, message):
    path, _ = changed_db
    result = nico("diff", *args, "--db", path)
    assert (
        result.exit_code == code
        and result.stderr.startswith("Error: ")
        and message in result.stderr
    )


# SQLite's own limit on the values bound into one statement (SQLITE_MAX_VARIABLE_NUMBER); some
# builds raise it (Debian's: 250,000), so the test sets it back on its connections.
SQLITE_DEFAULT_VARIABLES = 32_766


def test_more_changed_comments_than_sqlite_takes_bound_values(tmp_path):
    """33,000 comments nicoru'd at once: more than the values SQLite binds into one statement,
    which asking for the changed comments by id would need."""
    path = tmp_path / "big.db"
    count = 33_000
    engine = _engine(str(path))
    _crawl(engine, [_comment(no) for no in range(1, count + 1)])
    second, _ = _crawl(engine, [_comment(no, nicoru=1) for no in range(1, count + 1)])
    engine.dispose()
    engine = store.create_db_engine(str(path), read_only=True)

    @event.listens_for(engine, "connect")
    def sqlite_default_limit(dbapi_connection, _record):
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQLITE_DEFAULT_VARIABLES)

    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) == SQLITE_DEFAULT_VARIABLES
        changes = na.diff_video(connection, "sm9")
    engine.dispose()
    assert changes.counts() == _counts(nicoru_changed=count)
    changed = changes.frames["nicoru_changed"]
    assert changed["no"].tolist() == list(range(1, count + 1))
    assert set(changed["run_id"]) == {second} and changed["seen_at"].notna().all()


def test_a_comment_served_again_shows_as_restored(nico, db_target):
    """Deleted (or no longer served) by one run, served again by the next: restored between
    those two, and nothing at all across the three (the same state at both ends)."""
    engine = _engine(db_target)
    first, _ = _crawl(engine, [_comment(no, nicoru=1) for no in range(1, 4)])
    second, _ = _crawl(engine, [_comment(2, deleted=True)])
    third, _ = _crawl(engine, [_comment(2, nicoru=3)])
    engine.dispose()
    back = na.diff_video(db_target, "sm9", runs=(second, third))
    assert back.counts() == _counts(restored=1)
    (restored,) = back.records("restored")
    assert (restored["no"], restored["nicoru_before"], restored["nicoru_after"]) == (2, 1, 3)
    assert restored["run_id"] == third and restored["deleted_reason"] is None
    assert _keys(na.diff_video(db_target, "sm9", runs=(first, second)), "deleted") == [2]
    across = na.diff_video(db_target, "sm9", runs=(first, third))
    assert _keys(across, "restored") == [] and _keys(across, "deleted") == []
    assert _keys(across, "nicoru_changed") == [2]  # 1 → 3, deleted in between
    shown = nico(
        "diff", "sm9", "--runs", f"{second}..{third}", "--format", "json", "--db", db_target
    )
    assert shown.exit_code == 0, shown.stderr
    payload = json.loads(shown.stdout)
    assert payload["restored"]["count"] == 1 and payload["restored"]["by_fork"] == {"main": 1}
    assert payload["restored"]["comments"][0]["content"] == "コメント2"
    assert "1 restored" in shown.stderr


def test_an_unchanged_video_has_nothing_to_show(nico, tmp_path):
    path = tmp_path / "u.db"
    engine = _engine(str(path))
    _crawl(engine, [_comment(1)])
    _crawl(engine, [_comment(1)])
    engine.dispose()
    result = nico("diff", "sm9", "--format", "json", "--db", path)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [payload[kind]["count"] for kind in na.CHANGE_KINDS] == [0] * len(na.CHANGE_KINDS)
    assert payload["first_run"] < payload["last_run"]  # two runs, and nothing between them
    assert na.load_observations(str(path), "sm9").empty
