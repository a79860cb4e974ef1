"""Everything after fetching works on live comments: export (the classic live logs' ``<chat>``,
v1 JSON, JSON Lines, CSV, Parquet, read back by `nico import`), search, analyze, and the
pandas API, which carries the live columns (message id, overflowed flag, name)."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from lxml import etree

import nicocomments.analysis as na
from nicocomments.records import Comment
from nicosandbox.expected import expected_live_comments
from nicosandbox.liveworld import LIVE_ENDED_ID
from tests.helpers import stored_comments
from tests.live_helpers import by_no, stored_live_comments


@pytest.fixture
def live_db(logged_in, nico, tmp_path_factory, world):
    now = world.live_anchor + 100
    logged_in.clock = lambda: now
    db = tmp_path_factory.mktemp("live") / "n.db"
    result = nico("fetch", LIVE_ENDED_ID, "--all-history", "--db", db, "--interval", "0")
    assert result.exit_code == 0, result.stderr
    return db, expected_live_comments(world, LIVE_ENDED_ID, now=now)


def test_xml_export_is_the_classic_live_logs_chat(live_db, nico, tmp_path):
    db, truth = live_db
    out = tmp_path / "lv.xml"
    result = nico("export", LIVE_ENDED_ID, "--db", db, "-o", out)
    assert result.exit_code == 0, result.stderr
    chats = etree.parse(str(out)).getroot().findall("chat")
    assert len(chats) == len(truth)
    first = chats[0]
    expected = by_no(truth)[0]
    assert first.get("thread") == LIVE_ENDED_ID and first.get("fork") is None
    assert (
        int(first.get("no")) == expected["no"]
        and int(first.get("vpos")) * 10 == (expected["vpos_ms"])
    )
    assert first.get("mail", "") == expected["commands"] and first.text == expected["content"]
    anonymous = next(c for c in chats if c.get("anonymity") == "1")
    assert anonymous.get("mail", "").split()[0] == "184"
    assert anonymous.get("user_id", "").startswith("a:")  # the hashed user id


def _carried_by(fmt: str, comments: list[Comment]) -> list[Comment]:
    """What a format carries of live comments: everything for jsonl, csv and parquet; v1 JSON
    and the classic live logs' XML have no place for the message id, the overflowed flag or the
    name (and v1 none for date_usec)."""
    if fmt in ("jsonl", "csv", "parquet"):
        return comments
    cut = {"message_id": None, "is_overflowed": None, "name": None}
    if fmt == "json":
        cut["date_usec"] = None
    return [c._replace(**cut) for c in comments]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "json", "xml"])
def test_every_format_round_trips_every_column_of_live_comments(live_db, nico, tmp_path, fmt):
    db, truth = live_db
    stored = stored_comments(db, LIVE_ENDED_ID)
    assert len(stored) == len(truth)
    assert any(c.is_overflowed for c in stored) and any(c.name for c in stored)
    assert all(c.message_id for c in stored)
    out = tmp_path / f"export.{fmt}"  # not named after the program: the file must say it
    if fmt == "json":
        out = tmp_path / f"{LIVE_ENDED_ID}.json"  # v1 JSON has no place for it
    assert nico("export", LIVE_ENDED_ID, "--db", db, "--format", fmt, "-o", out).exit_code == 0
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert {"message_id", "is_overflowed", "name"} <= set(rows[0])
    elif fmt == "parquet":
        assert {"message_id", "is_overflowed", "name"} <= set(pq.read_schema(out).names)
    again = tmp_path / "again.db"
    result = nico("import", out, "--db", again)
    assert result.exit_code == 0, result.stderr
    assert stored_comments(again, LIVE_ENDED_ID) == _carried_by(fmt, stored)
    # Imported again: nothing doubles (the message id is a key of its own).
    result = nico("import", out, "--db", again)
    assert result.exit_code == 0, result.stderr
    assert len(stored_comments(again, LIVE_ENDED_ID)) == len(stored)


def test_search_and_analyze_see_live_comments(live_db, nico):
    db, truth = live_db
    word = by_no(truth)[0]["content"]
    found = nico("search", word, "--db", db, "--format", "json")
    assert found.exit_code == 0, found.stderr
    hits = json.loads(found.stdout)
    assert hits and all(h["fork"] == "live" and word in h["content"] for h in hits)
    summary = json.loads(nico("analyze", LIVE_ENDED_ID, "--db", db, "--format", "json").stdout)
    assert summary["by_fork"] == {"live": len(truth)}
    assert summary["comments"] == len(truth)


def test_the_pandas_api_carries_the_live_columns(live_db, world):
    db, truth = live_db
    frame = na.load_comments(str(db), LIVE_ENDED_ID)
    assert len(frame) == len(truth)
    assert set(frame["fork"]) == {"live"}
    rows = {r["no"]: r for r in truth}
    for record in frame.head(200).to_dict("records"):
        expected = rows[record["no"]]
        assert record["message_id"] == expected["message_id"]
        assert bool(record["is_overflowed"]) == expected["is_overflowed"]
        assert (None if pd.isna(record["name"]) else record["name"]) == expected["name"]
    assert frame["is_overflowed"].sum() == sum(r["is_overflowed"] for r in truth)
    videos = na.load_videos(str(db), LIVE_ENDED_ID)
    program = world.live_programs[LIVE_ENDED_ID]
    assert videos["begin_at"].iloc[0].timestamp() == program.begin_time
    assert videos["vpos_base_at"].iloc[0].timestamp() == program.vpos_base_time


def test_demo_live_shows_it_offline(nico, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = nico("demo", "--live", "--big-comments", "1000")
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    for program_id in ("lv1001", "lv1002"):
        assert f"{program_id} (" in text
    assert text.count("reached the program's beginning") == 2
    assert "not published (filtered)" in text
    stored = stored_live_comments(tmp_path / "nico-demo.db", "lv1002")
    assert len(stored) > 2000
    assert not list(tmp_path.glob("**/session.json"))  # the user's own session is untouched


def test_datasets_keep_the_live_columns(live_db, nico, tmp_path):
    """`nico export --partitioned` and `nico import --to` of a live program's export: the
    dataset gives `load_comments` the same live columns as the database."""
    db, truth = live_db
    from_db = na.load_comments(str(db), LIVE_ENDED_ID).drop(columns="run_id")  # a dataset: none
    exported = tmp_path / "exported"
    result = nico("export", "--format", "parquet", "--partitioned", exported, "--db", db)
    assert result.exit_code == 0, result.stderr
    jsonl = tmp_path / "lv.jsonl"
    result = nico("export", LIVE_ENDED_ID, "--format", "jsonl", "-o", jsonl, "--db", db)
    assert result.exit_code == 0, result.stderr
    imported = tmp_path / "imported"
    result = nico("import", jsonl, "--to", imported, "--by", "month")
    assert result.exit_code == 0, result.stderr
    for directory in (exported, imported):
        frame = na.load_comments(directory, LIVE_ENDED_ID).drop(columns="run_id")
        pd.testing.assert_frame_equal(frame, from_db)  # every column, the live ones included
    assert from_db["is_overflowed"].sum() == sum(r["is_overflowed"] for r in truth)
