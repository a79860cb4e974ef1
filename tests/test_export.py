"""Exports: exact XML head, lossless round trips, hashed user ids, every format readable."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from nicocomments import formats, store
from nicocomments.formats.xml import XML_HEAD
from nicocomments.ingest import import_files
from nicocomments.records import Comment
from nicosandbox import (
    CHANNEL_VIDEO_ID,
    MEDIUM_VIDEO_ID,
    REAL_NM_VIDEO_ID,
    REAL_OLD_VIDEO_ID,
)
from tests.conftest import (
    ROOT,
    SHARED,
    SHARED_REASON,
    fixture_path,
    load_fixture_comments,
    shared_file,
)
from tests.helpers import query, stored_comments

FIXTURE = sorted(
    load_fixture_comments("analysis/sm1.jsonl")["sm1"], key=lambda c: (c.thread_id, c.fork, c.no)
)


def _export(engine, fmt, video_id="sm1", forks=store.FORK_ORDER, salt=None) -> bytes:
    out = io.BytesIO()
    with engine.connect() as connection:
        rows = store.iter_comments(connection, video_id, forks)
        if salt:
            rows = formats.hash_user_ids(rows, salt)
        formats.writer(fmt)(
            rows,
            out,
            video_id=video_id,
            thread_counts=store.thread_counts(connection, video_id),
        )
    return out.getvalue()


def _export_db(db, fmt, video_id) -> bytes:
    """`_export` of the SQLite file ``db``."""
    engine = store.open_db(str(db))
    try:
        return _export(engine, fmt, video_id)
    finally:
        engine.dispose()


def _reimport(tmp_path, name, data, **options):
    path = tmp_path / name
    path.write_bytes(data)
    db = tmp_path / "copy.db"
    engine = store.open_db(str(db))
    try:
        [result] = import_files(engine, [path], **options)
    finally:
        engine.dispose()
    assert result.error is None, result.error
    return db


def test_xml_starts_with_the_bytes_danmaku2ass_looks_for(analysis_db):
    data = _export(analysis_db, "xml")
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?><packet>')
    assert data[: len(XML_HEAD)] == XML_HEAD and not data.startswith(b"\xef\xbb\xbf")
    assert data.rstrip().endswith(b"</packet>")
    assert (
        b'<chat thread="1000" no="17" vpos="6500" date="1577944800" date_usec="0" '
        b'deleted="2" score="0"/>' in data
    )


def test_xml_round_trip_loses_nothing_but_the_owners_user_id(analysis_db, tmp_path):
    db = _reimport(tmp_path, "sm1.xml", _export(analysis_db, "xml"))
    assert stored_comments(db, "sm1") == [
        c._replace(user_id=None) if c.fork == "owner" else c for c in FIXTURE
    ]


def test_xml_escapes_what_xml_must(tmp_path):
    tricky = Comment("9", "main", 1, 10, 1, 'a < b & "c" \r\n\x01end', "184 red", user_id='x"y')
    out = io.BytesIO()
    formats.writer("xml")([tricky], out, video_id="sm9", thread_counts={})
    db = _reimport(tmp_path, "sm9.xml", out.getvalue())
    [back] = stored_comments(db)
    assert back == tricky._replace(content='a < b & "c" \r\nend')  # \x01 cannot be XML


def test_v1_json_is_what_niconicomments_reads_and_round_trips(tmp_path):
    source = _reimport(
        tmp_path, "sm20.json", fixture_path("interchange/sm20_v1_response.json").read_bytes()
    )
    data = _export_db(source, "json", "sm20")
    threads = json.loads(data)
    assert [(t["id"], t["fork"], t["commentCount"], len(t["comments"])) for t in threads] == [
        ("1590000000", "owner", 2, 2),
        ("1590000000", "main", 9, 3),
        ("1590000000", "easy", 2, 2),
    ]
    # niconicomments' ZV1Comment: every field present, with these types.
    types = {"id": str, "no": int, "vposMs": int, "body": str, "commands": list, "userId": str,
             "isPremium": bool, "score": int, "postedAt": str, "nicoruCount": int,
             "nicoruId": type(None), "source": str, "isMyPost": bool}  # fmt: skip
    for thread in threads:
        for comment in thread["comments"]:
            assert {k: type(v) for k, v in comment.items()} == types
    (tmp_path / "again").mkdir()
    copy = _reimport(tmp_path / "again", "sm20.json", data)
    assert stored_comments(copy) == stored_comments(source)


def test_every_column_formats_read_back_the_rows(analysis_db):
    jsonl = [json.loads(line) for line in _export(analysis_db, "jsonl").decode().splitlines()]
    csv_rows = list(csv.DictReader(io.StringIO(_export(analysis_db, "csv").decode())))
    parquet = pd.read_parquet(io.BytesIO(_export(analysis_db, "parquet")))
    assert len(jsonl) == len(csv_rows) == len(parquet) == len(FIXTURE)
    by_key = {(c.thread_id, c.fork, c.no): c for c in FIXTURE}
    for row in jsonl:
        comment = by_key[(row["thread_id"], row["fork"], row["no"])]
        stamp = pd.Timestamp(row.pop("posted_at")).timestamp()
        assert row.pop("video_id") == "sm1"
        assert Comment(**row, posted_at=int(stamp)) == comment
    assert csv_rows[1]["is_premium"] in ("true", "false") and csv_rows[0]["fork"] == "owner"
    assert parquet["posted_at"].dt.tz is not None
    assert parquet["no"].tolist() == [row["no"] for row in jsonl]
    assert parquet["is_deleted"].sum() == 1


def test_hashed_user_ids_are_stable_per_salt(analysis_db):
    one = [json.loads(x) for x in _export(analysis_db, "jsonl", salt="s1").decode().splitlines()]
    two = [json.loads(x) for x in _export(analysis_db, "jsonl", salt="s1").decode().splitlines()]
    other = [json.loads(x) for x in _export(analysis_db, "jsonl", salt="s2").decode().splitlines()]
    assert one == two
    ids = [row["user_id"] for row in one]
    assert "u1" not in ids and formats.hash_user_id("u1", "s1") in ids
    assert ids.count(formats.hash_user_id("u4", "s1")) == 6
    assert [r["user_id"] for r in other] != ids
    assert [r["user_id"] for r in one if r["is_deleted"]] == [None]  # it had none
    assert len(formats.hash_user_id("u1", "s1")) == formats.HASH_LENGTH


def test_forks_can_be_chosen(analysis_db):
    rows = [
        json.loads(x) for x in _export(analysis_db, "jsonl", forks=("easy",)).decode().splitlines()
    ]
    assert [r["fork"] for r in rows] == ["easy"]


def test_ass_lays_out_the_visible_comments(analysis_db):
    import pysubs2

    subs = pysubs2.SSAFile.from_string(_export(analysis_db, "ass").decode())
    assert subs.info["PlayResX"] == "640"
    # 20 comments: no owner script, no deleted one.
    assert len(subs.events) == 18
    fixed = [e for e in subs.events if "\\an8" in e.text]
    assert len(fixed) == 2  # ue and shita
    red = [e for e in subs.events if "\\c&H0000FF&" in e.text]
    assert len(red) == 2  # "red" and "#ff0000"


@pytest.mark.parametrize("command", ["#+12345", "#-12345", "#12_345"])
def test_ass_ignores_what_only_looks_like_a_colour_code(command):
    pytest.importorskip("pysubs2")
    out = io.BytesIO()
    comment = Comment("9", "main", 1, 10, 1, "text", command)
    formats.writer("ass")([comment], out, video_id="sm9", thread_counts={})
    assert "\\c&H" not in out.getvalue().decode()  # white, the default


def test_the_real_sample_round_trips_through_xml(tmp_path):
    if SHARED is None:
        pytest.skip(SHARED_REASON)
    sample = SHARED / "samples/legacy_xml/saccubus2__sm14097905_thread_1302222473.xml"
    db = _reimport(tmp_path, "in.xml", sample.read_bytes())
    data = _export_db(db, "xml", "sm14097905")
    (tmp_path / "again").mkdir()
    copy = _reimport(tmp_path / "again", "sm14097905.xml", data)
    assert stored_comments(copy) == stored_comments(db)


# --- every format, both protocols: export, import again, compare every column -----------------

FAST = ("--interval", "0", "--backoff", "0")
# Videos whose data shows each protocol's fields: a channel video (two threads, owner, deleted
# comments on the legacy server), real api.json chats (anonymity without 184), the real
# nm14999484 (owner scripts, scores, nicoru, comment ids and sources over nvcomment).
ROUND_TRIP_VIDEOS = {
    "legacy": (CHANNEL_VIDEO_ID, REAL_OLD_VIDEO_ID, REAL_NM_VIDEO_ID),
    "nvcomment": (CHANNEL_VIDEO_ID, REAL_NM_VIDEO_ID, MEDIUM_VIDEO_ID),
}


def _rows(db, video_id) -> list[tuple]:
    """Every column of a video's stored comments (less the row and run ids)."""
    [(videos,)] = query(
        db, "SELECT count(DISTINCT video_id) FROM comments WHERE video_id = ?", video_id
    )
    assert videos == 1
    return [(video_id, *c) for c in stored_comments(db, video_id)]


def _carried_by(fmt: str, rows: list[tuple]) -> list[tuple]:
    """What a format can carry of each row: everything for jsonl, csv and parquet."""
    fields = ("video_id", *Comment._fields)
    out = []
    for row in rows:
        values = dict(zip(fields, row, strict=True))
        if fmt == "json":  # v1: no deleted comments, no date_usec
            if values["is_deleted"]:
                continue
            values["date_usec"] = None
        if fmt == "xml":  # no comment id or source, no owner's user id; vpos in 1/100 s
            values.update(comment_id=None, source=None, vpos_ms=values["vpos_ms"] // 10 * 10)
            if values["fork"] == "owner":
                values["user_id"] = None
        out.append(tuple(values.values()))
    return out


@pytest.mark.parametrize("protocol", ["legacy", "nvcomment"])
def test_every_format_round_trips_every_column_of_both_protocols(
    logged_in, nico, tmp_path, protocol
):
    db = tmp_path / "fetched.db"
    videos = ROUND_TRIP_VIDEOS[protocol]
    fetched = nico("fetch", *videos, "--all-history", "--protocol", protocol, "--db", db, *FAST)
    assert fetched.exit_code == 0, fetched.stderr
    for video_id in videos:
        rows = _rows(db, video_id)
        assert rows
        for fmt in ("jsonl", "csv", "parquet", "json", "xml"):
            # A file name that does not name the video: the file itself must say which it is
            # (jsonl/csv/parquet per row, xml in <view_counter>); v1 JSON has no place for it.
            name = f"{video_id}.json" if fmt == "json" else f"export.{fmt}"
            folder = tmp_path / protocol / video_id / fmt
            folder.mkdir(parents=True)
            out = folder / name
            exported = nico("export", video_id, "--format", fmt, "-o", out, "--db", db)
            assert exported.exit_code == 0, exported.stderr
            copy = folder / "copy.db"
            imported = nico("import", out, "--db", copy)
            assert imported.exit_code == 0, (fmt, imported.stderr)
            assert f"({fmt if fmt != 'json' else 'v1'}), " in imported.stdout
            assert _rows(copy, video_id) == _carried_by(fmt, rows), (protocol, video_id, fmt)


def test_csv_quotes_a_bare_carriage_return(tmp_path):
    tricky = [
        Comment("9", "main", 1, 10, 1, "before\rafter", "184"),
        Comment("9", "main", 2, 20, 2, 'comma, "quote"\r\nand\nlines', ""),
    ]
    out = io.BytesIO()
    formats.writer("csv")(tricky, out, video_id="sm9", thread_counts={})
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode(), newline="")))
    assert [row["content"] for row in rows] == [c.content for c in tricky]
    frame = pd.read_csv(io.BytesIO(out.getvalue()), keep_default_na=False)
    assert frame["content"].tolist() == [c.content for c in tricky]
    db = _reimport(tmp_path, "any.csv", out.getvalue())
    assert stored_comments(db) == tricky


def test_v1_json_writes_only_what_is_known(tmp_path):
    legacy = Comment("9", "main", 1, 10, 1, "text", "red", 5, "u1", is_anonymous=True)
    owner = Comment("9", "owner", 1, 0, 1, "/isWide=true", "", score=0, nicoru_count=0)
    nv = Comment("9", "main", 2, 10, 1, "w", "184", None, "h", True, True, False, None, -5, 2,
                 "881781295290478614", "leaf")  # fmt: skip
    out = io.BytesIO()
    formats.writer("json")([owner, legacy, nv], out, video_id="sm9", thread_counts={})
    owner_thread, main_thread = json.loads(out.getvalue())
    [owner_v1] = owner_thread["comments"]
    legacy_v1, nv_v1 = main_thread["comments"]
    assert owner_v1["userId"] is None
    assert (legacy_v1["id"], legacy_v1["source"], legacy_v1["score"]) == (None, None, None)
    assert legacy_v1["nicoruCount"] is None and legacy_v1["isAnonymous"] is True
    assert "isAnonymous" not in nv_v1  # 184 says it, as in the server's answers
    assert (nv_v1["id"], nv_v1["source"], nv_v1["score"]) == ("881781295290478614", "leaf", -5)
    db = _reimport(tmp_path, "sm9.json", out.getvalue())
    assert stored_comments(db) == sorted([owner, legacy._replace(date_usec=None), nv])


def test_xml_owner_chats_carry_no_user_id_as_players_expect(tmp_path):
    """niconicomments takes a chat without user_id for the owner's (its parseXML:
    ``owner: !item.getAttribute("user_id")``); v1 data has the uploader's id on them."""
    from lxml import etree

    sample = shared_file("samples/nvcomment_v1/niwango.js__nm14999484.json")
    db = _reimport(tmp_path, "nm14999484.json", sample.read_bytes())
    data = _export_db(db, "xml", "nm14999484")
    chats = etree.fromstring(data).findall("chat")
    owner = [c for c in chats if not c.get("user_id")]
    assert len(owner) == 802 and all(c.get("fork") == "1" for c in owner)
    assert sum(c.get("fork") is None for c in chats) == 339


def test_xml_names_its_video_and_drops_what_xml_cannot_hold(tmp_path):
    comment = Comment("1234", "main", 1, 10, 1, "a\ufffeb\uffffc\x0bd\ud800e")
    out = io.BytesIO()
    formats.writer("xml")([comment], out, video_id="sm77", thread_counts={})
    assert b'<view_counter id="sm77"/>' in out.getvalue()
    db = _reimport(tmp_path, "comments.xml", out.getvalue())  # the name says nothing
    assert query(db, "SELECT video_id, content FROM comments") == [("sm77", "abcde")]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "U+FFFE" in readme and "U+FFFF" in readme
