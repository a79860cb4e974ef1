"""`nico import`, `export`, `analyze` and `search` through the CLI: output, stderr, exit codes."""

from __future__ import annotations

import csv
import io
import json

import pytest

from nicocomments import store
from nicocomments.records import Comment
from tests.conftest import fixture_path
from tests.helpers import query

INTERCHANGE = fixture_path("interchange")


def _db_with_sm9(nico, tmp_path):
    db = tmp_path / "n.db"
    result = nico("import", INTERCHANGE / "Example video [sm9].comments.json", "--db", db)
    assert result.exit_code == 0, result.stderr
    return db


def test_import_reports_each_file_and_is_idempotent(nico, tmp_path):
    db = tmp_path / "n.db"
    paths = [INTERCHANGE / "sm10.jsonl", INTERCHANGE / "sm9_api.json"]
    first = nico("import", *paths, "--db", db)
    assert first.exit_code == 0, first.stderr
    assert "sm10.jsonl: 5 comments read (nii), 5 new, video sm10" in first.stdout
    assert "2 of 2 files imported, 8 new comments" in first.stdout
    again = nico("import", *paths, "--db", db)
    assert "0 new comments" in again.stdout
    assert query(db, "SELECT count(*) FROM fetch_runs WHERE protocol = 'import'") == [(4,)]


def test_a_malformed_file_is_exit_2_with_its_name(nico, tmp_path):
    bad = tmp_path / "sm5.xml"
    bad.write_text('<?xml version="1.0"?><packet><chat thread="1" no="1" date="1">x</chat><chat')
    result = nico("import", bad, "--db", tmp_path / "n.db")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: cannot import {bad}: not well-formed XML")
    assert result.stderr.count("\n") == 1
    assert query(tmp_path / "n.db", "SELECT count(*) FROM comments") == [(0,)]


def test_one_bad_file_among_several(nico, tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text("hello")
    result = nico("import", bad, INTERCHANGE / "sm10.jsonl", "--db", tmp_path / "n.db")
    assert result.exit_code == 2
    assert "1 of 2 files imported" in result.stdout
    assert "Error: cannot import" in result.stderr and "notes.json" in result.stderr


def test_unknown_format_is_bad_input(nico, tmp_path):
    result = nico(
        "import", INTERCHANGE / "sm10.jsonl", "--format", "srt", "--db", tmp_path / "n.db"
    )
    assert result.exit_code == 2 and "unknown format" in result.stderr


def test_export_writes_a_file_or_stdout(nico, tmp_path, monkeypatch):
    db = _db_with_sm9(nico, tmp_path)
    monkeypatch.chdir(tmp_path)
    result = nico("export", "sm9", "--db", db)
    assert result.exit_code == 0, result.stderr
    assert (
        (tmp_path / "sm9.xml")
        .read_bytes()
        .startswith(b'<?xml version="1.0" encoding="UTF-8"?><packet>')
    )
    assert "Wrote 7 comments of sm9 to sm9.xml (xml)." in result.stderr
    stdout = nico("export", "sm9", "--format", "json", "-o", "-", "--forks", "main", "--db", db)
    assert stdout.exit_code == 0
    [thread] = json.loads(stdout.stdout)
    assert thread["fork"] == "main" and len(thread["comments"]) == 3
    hashed = nico(
        "export", "sm9", "--format", "jsonl", "-o", "-", "--hash-user-ids", "salt", "--db", db
    )
    assert "358504" not in hashed.stdout and "aBcDeFgHiJkLmNoPqRsT" not in hashed.stdout
    assert not list(tmp_path.glob("*.part"))


def test_export_of_an_unknown_video_is_exit_4(nico, tmp_path):
    db = _db_with_sm9(nico, tmp_path)
    result = nico("export", "sm404", "--db", db, "-o", tmp_path / "x.xml")
    assert result.exit_code == 4 and result.stderr.startswith("Error: sm404 is not in")
    assert not (tmp_path / "x.xml").exists()
    # Forks are not an enumeration (the server may name new ones, such as "ai"), but a fork
    # name is a short word.
    bad = nico("export", "sm9", "--forks", "main,no such fork", "--db", db)
    assert bad.exit_code == 2


@pytest.mark.parametrize("command", [("analyze", "sm404"), ("search", "8888", "--video", "sm404")])
def test_analyze_and_search_of_an_unknown_video_are_exit_4(nico, tmp_path, command):
    db = _db_with_sm9(nico, tmp_path)
    result = nico(*command, "--db", db)
    assert result.exit_code == 4 and result.stderr.startswith("Error: sm404 is not in")


def test_analyze_summarises_and_plots(nico, tmp_path):
    db = _db_with_sm9(nico, tmp_path)
    result = nico("analyze", "sm9", "--db", db, "--plot", tmp_path / "sm9.png")
    assert result.exit_code == 0, result.stderr
    assert "sm9: 7 comments (owner 2, main 3, easy 2)" in result.stdout
    assert "Top terms" in result.stdout
    # Five viewers' comments: nothing stands out, and the file gave no length.
    assert "Highlights: no moment of the video stands out" in result.stdout
    assert "video length unknown" in result.stdout
    assert (tmp_path / "sm9.png").read_bytes()[:4] == b"\x89PNG"
    as_json = json.loads(nico("analyze", "sm9", "--db", db, "--format", "json").stdout)
    assert as_json["by_fork"] == {"owner": 2, "main": 3, "easy": 2}
    assert as_json["highlights"] == [] and as_json["video_length"] is None
    as_csv = nico("analyze", "sm9", "--db", db, "--format", "csv").stdout.splitlines()
    assert as_csv[0] == "section,item,field,value" and "forks,main,comments,3" in as_csv


def _db_with_a_video_of(tmp_path, length_s: int | None, comments: list[Comment]):
    """A database holding video sm5 of ``length_s`` seconds (None: unknown) and ``comments``."""
    from nicocomments.records import VideoInfo

    db = tmp_path / "n.db"
    engine = store.open_db(str(db))
    try:
        with engine.begin() as connection:
            store.upsert_video(
                connection, VideoInfo("sm5", (), duration_s=length_s), store.now_utc()
            )
            store.save_comments(connection, "sm5", None, comments)
    finally:
        engine.dispose()
    return db


def test_analyze_keeps_to_the_videos_length_and_says_what_lies_outside(nico, tmp_path):
    # A 24-minute video: two comments every 10 s, a burst at 12:00, and four stray comments
    # at 100:00 (plus one before the start) that used to stretch the axis and make a highlight.
    positions = [*range(0, 1_440_000, 5_000), *[720_000 + i for i in range(40)]]
    positions += [6_000_000, 6_000_100, 6_000_200, 6_000_300, -3_000]
    comments = [
        Comment("1", "main", no, vpos, 1_600_000_000 + no, "w", user_id=f"u{no}")
        for no, vpos in enumerate(positions, 1)
    ]
    db = _db_with_a_video_of(tmp_path, 1440, comments)
    as_json = json.loads(
        nico("analyze", "sm5", "--bin", "30s", "--format", "json", "--db", db).stdout
    )
    assert as_json["video_length"] == "24:00"
    assert as_json["outside_video"] == {"before_start": 1, "after_end": 4}
    assert [(h["start"], h["end"]) for h in as_json["highlights"]] == [("12:00", "12:30")]
    assert all(h["score"] >= 3.5 for h in as_json["highlights"])
    table = nico("analyze", "sm5", "--bin", "30s", "--db", db).stdout
    assert "video length 24:00" in table and "1 comments before 0:00, 4 after the end" in table
    plotted = nico("analyze", "sm5", "--db", db, "--plot", tmp_path / "sm5.png")
    assert plotted.exit_code == 0, plotted.stderr


def test_analyze_csv_has_every_value_of_the_json(nico, tmp_path):
    db = _db_with_sm9(nico, tmp_path)
    as_json = json.loads(nico("analyze", "sm9", "--db", db, "--format", "json").stdout)
    rows = list(
        csv.reader(io.StringIO(nico("analyze", "sm9", "--db", db, "--format", "csv").stdout))
    )
    fields = {field for section, _item, field, _value in rows[1:] if section == "video"}
    for key, value in as_json.items():
        if key in ("video_id", "by_fork") or isinstance(value, list):
            continue
        if isinstance(value, dict):
            assert {f"{key}.{inner}" for inner in value} <= fields, key
        else:
            assert key in fields, key
    assert ["video", "sm9", "time_zone", "Asia/Tokyo"] in rows
    busiest = as_json["busiest_day"]
    assert ["video", "sm9", "busiest_day.date", busiest["date"]] in rows
    assert ["video", "sm9", "busiest_day.comments", str(busiest["comments"])] in rows


def test_analyze_errors(nico, tmp_path):
    db = _db_with_sm9(nico, tmp_path)
    assert nico("analyze", "sm404", "--db", db).exit_code == 4
    result = nico("analyze", "sm9", "--db", db, "--tz", "Mars/Olympus")
    assert result.exit_code == 2 and "unknown time zone" in result.stderr
    assert nico("analyze", "sm9", "--db", db, "--bin", "soon").exit_code == 2


def test_search(nico, tmp_path):
    db = _db_with_sm9(nico, tmp_path)
    result = nico("search", "キター", "--db", db)
    assert result.exit_code == 0 and "キターーー" in result.stdout
    assert "1 comment contain 'キター'." in result.stderr
    rows = json.loads(nico("search", "ｗ", "--db", db, "--format", "json").stdout)
    assert [r["content"] for r in rows] == ["ｗｗｗ"]
    assert nico("search", "x", "--video", "sm404", "--db", db).exit_code == 4


def test_search_finds_queued_comments_without_writing(nico, tmp_path):
    db = _db_with_sm9(nico, tmp_path)
    engine = store.open_db(str(db))
    try:
        with engine.begin() as connection:
            store.save_comments(
                connection, "sm9", None, [Comment("9", "main", 99, 0, 1, "ねこねこ")]
            )
    finally:
        engine.dispose()
    assert query(db, "SELECT count(*) FROM comments_fts_pending") == [(1,)]
    result = nico("search", "こねこ", "--db", db)
    assert result.exit_code == 0 and "ねこねこ" in result.stdout
    assert query(db, "SELECT count(*) FROM comments_fts_pending") == [(1,)]  # still queued


def test_search_case_as_its_help_says(nico, tmp_path):
    db = _db_with_sm9(nico, tmp_path)
    engine = store.open_db(str(db))
    try:
        with engine.begin() as connection:
            rows = [Comment("9", "main", 98, 0, 1, "HELLO"), Comment("9", "main", 99, 0, 1, "ЖУКИ")]
            store.save_comments(connection, "sm9", None, rows)
        store.sync_search_index(engine)
    finally:
        engine.dispose()

    def found(text):
        return [
            r["content"]
            for r in json.loads(nico("search", text, "--db", db, "--format", "json").stdout)
        ]

    assert found("he") == found("hello") == ["HELLO"]  # ASCII: LIKE and the index
    assert found("жук") == ["ЖУКИ"]  # other scripts: the index


@pytest.mark.parametrize(
    "args",
    [
        ("export", "sm9", "--format", "csv", "-o", "-"),
        ("export", "sm9", "--format", "xml", "-o", "-"),
        ("analyze", "sm9"),
        ("analyze", "sm9", "--format", "csv"),
        ("search", "ｗ", "--format", "json"),
        ("status",),
    ],
    ids=" ".join,
)
def test_a_closed_pipe_ends_quietly(nico, tmp_path, args):
    """``nico … | head``: the reader goes away; nico stops without a word, with 141 (128 +
    SIGPIPE), as the shell reports other tools that a closed pipe stopped."""
    import subprocess
    import sys

    db = _db_with_sm9(nico, tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "nicocomments", *args, "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # before nico writes anything: its first write finds no reader
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert "Error" not in stderr and "Traceback" not in stderr and "Exception" not in stderr


def test_search_tells_two_threads_apart_and_moments_before_the_start(nico, tmp_path):
    db = _db_with_a_video_of(
        tmp_path,
        None,
        [
            Comment("100", "main", 1, 61_000, 1, "同じ言葉"),
            Comment("200", "main", 1, -5_200, 1, "同じ言葉"),
        ],
    )
    rows = json.loads(nico("search", "同じ言葉", "--db", db, "--format", "json").stdout)
    assert [(r["thread_id"], r["fork"], r["no"], r["vpos"]) for r in rows] == [
        ("200", "main", 1, "-0:05"),
        ("100", "main", 1, "1:01"),
    ]
    csv_rows = nico("search", "同じ言葉", "--db", db, "--format", "csv").stdout.splitlines()
    assert csv_rows[0].startswith("video_id,thread_id,fork,no,vpos")
    table = nico("search", "同じ言葉", "--db", db).stdout
    assert "200" in table and "-0:05" in table
