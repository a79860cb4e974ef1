"""Importing other tools' files: the readers of nicocomments.formats, the import job of
nicocomments.ingest, and every real sample in ../shared."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from nicocomments import formats, store
from nicocomments.errors import BadInput
from nicocomments.formats import MalformedFile, apijson, sniff_format, v1, ytdlp
from nicocomments.formats.nii import read_nii
from nicocomments.formats.xml import read_xml
from nicocomments.formats.ytdlp import read_ytdlp
from nicocomments.ids import video_id_from_name
from nicocomments.ingest import import_files
from nicocomments.records import Comment, ThreadStatus
from nicosandbox import BIG_VIDEO_ID, MEDIUM_VIDEO_ID, REAL_NM_VIDEO_ID
from tests.conftest import SHARED, SHARED_REASON, fixture_path, shared_file
from tests.helpers import query, stored_comments

INTERCHANGE = fixture_path("interchange")
YTDLP = INTERCHANGE / "Example video [sm9].comments.json"


def _import(db: Path, *paths: Path, **options):
    engine = store.open_db(str(db))
    try:
        return list(import_files(engine, list(paths), **options))
    finally:
        engine.dispose()


def _comments(items):
    return [item for item in items if isinstance(item, Comment)]


# --- recognising formats ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("Example video [sm9].comments.json", "ytdlp"),
        ("sm20_v1_response.json", "v1"),
        ("sm20_v1_data.json", "v1"),
        ("sm9_api.json", "apijson"),
        ("sm10.jsonl", "nii"),
        ("sm11.dat", "nii"),
    ],
)
def test_formats_are_recognised_from_their_first_bytes(name, fmt):
    head = (INTERCHANGE / name).read_bytes()[: formats.HEAD_BYTES]
    assert sniff_format(head, name) == fmt


def test_xml_and_unknown_files():
    assert sniff_format(b'\xef\xbb\xbf<?xml version="1.0"?><packet/>') == "xml"
    assert sniff_format(b'[{"id": "1", "fork": "main", "comments": []}]') == "v1"
    with pytest.raises(MalformedFile, match="not a comment file"):
        sniff_format(b"hello, world")


@pytest.mark.parametrize(
    ("name", "video"),
    [
        ("sm9.jsonl", "sm9"),
        ("Title [so123].comments.json", "so123"),
        ("result_3_sm9__version20090904.xml", "sm9"),
        ("comments.xml", None),
        ("ssm9x.json", None),
    ],
)
def test_video_ids_in_file_names(name, video):
    assert video_id_from_name(name) == video


# --- readers ------------------------------------------------------------------------------------


def test_ytdlp_runs_are_split_back_into_forks():
    with YTDLP.open("rb") as stream:
        comments = _comments(read_ytdlp(stream, "sm9"))
    assert [(c.thread_id, c.fork, c.no) for c in comments] == [
        ("ytdlp:sm9", "owner", 1),
        ("ytdlp:sm9", "owner", 2),
        ("ytdlp:sm9", "main", 5),
        ("ytdlp:sm9", "main", 7),
        ("ytdlp:sm9", "main", 9),
        ("ytdlp:sm9", "easy", 1),
        ("ytdlp:sm9", "easy", 2),
    ]
    first_main = comments[2]
    assert first_main.vpos_ms == 1230 and first_main.posted_at == 1588302300
    assert first_main.is_anonymous and first_main.commands == "184"
    assert first_main.comment_id == "200005" and first_main.score == -100
    assert comments[3].source == "leaf"


def test_a_ytdlp_owner_stretch_is_held_only_up_to_its_limit():
    # One user, numbered without a gap, all in one second: the owner's look, but far longer
    # than an owner thread is. It is not held whole: past the limit it is not the owner's.
    count = ytdlp.OWNER_STRETCH_LIMIT + 5
    rows = [
        {"no": n, "userId": "42", "postedAt": "2020-01-01T00:00:00+09:00"}
        for n in range(1, count + 1)
    ]
    read = []

    def counted():
        for row in rows:
            read.append(row)
            yield row

    leading, rest = ytdlp._leading_stretch(counted())
    assert len(leading) == ytdlp.OWNER_STRETCH_LIMIT
    assert len(read) == ytdlp.OWNER_STRETCH_LIMIT + 1  # one past the limit, no more
    assert not ytdlp._looks_like_owner(leading)
    assert len(leading) + len(list(rest)) == count


def test_a_second_main_thread_in_ytdlp_gets_a_thread_of_its_own():
    data = (
        b'[{"no":1,"userId":"a","postedAt":0},{"no":1,"userId":"b","postedAt":0},'
        b'{"no":1,"userId":"c","postedAt":0}]'
    )
    comments = _comments(read_ytdlp(io.BytesIO(data), "so1"))
    assert [(c.thread_id, c.fork) for c in comments] == [
        ("ytdlp:so1", "main"),
        ("ytdlp:so1", "easy"),
        ("ytdlp:so1:3", "main"),
    ]


# --- yt-dlp files as yt-dlp writes them ------------------------------------------------------


def as_ytdlp_writes(threads: list[dict]) -> bytes:
    """What yt-dlp's niconico extractor saves (``_get_subtitles``): the comments of every thread
    of a ``/v1/threads`` answer, ``traverse_obj(answer, ('data', 'threads', ..., 'comments',
    ...))``, in the answer's order, written with ``json.dumps`` and its defaults."""
    return json.dumps([comment for thread in threads for comment in thread["comments"]]).encode()


def _imported_forks(tmp_path, name: str, data: bytes) -> list[tuple[str, int, str]]:
    path = tmp_path / name
    path.write_bytes(data)
    [result] = _import(tmp_path / "n.db", path)
    assert result.error is None, result.error
    return query(tmp_path / "n.db", "SELECT fork, no, content FROM comments ORDER BY id")


def _by_fork(rows) -> dict[str, int]:
    return dict(Counter(fork for fork, *_ in rows))


def test_the_real_nm14999484_answer_flattened_by_ytdlp_keeps_its_forks(tmp_path):
    threads = json.loads(
        shared_file("samples/nvcomment_v1/niwango.js__nm14999484.json").read_text()
    )
    rows = _imported_forks(
        tmp_path, "ニコニコ動画講座 [nm14999484].comments.json", as_ytdlp_writes(threads)
    )
    assert _by_fork(rows) == {"owner": 802, "main": 339}  # easy: 0, as in the answer
    truth = [(t["fork"], c["no"], c["body"]) for t in threads for c in t["comments"]]
    assert rows == truth
    # Every column but the thread id is what the answer itself imports as.
    (tmp_path / "v1").mkdir()
    direct = tmp_path / "v1" / "nm14999484.json"
    direct.write_text(json.dumps(threads))
    _import(tmp_path / "v1" / "n.db", direct)
    assert [c._replace(thread_id="") for c in stored_comments(tmp_path / "n.db")] == [
        c._replace(thread_id="") for c in stored_comments(tmp_path / "v1" / "n.db")
    ]


def _v1_thread(world, thread_id, fork, positions=None) -> dict:
    """A thread as the emulator's comment server renders it, all its comments by default."""
    from nicosandbox.routes.nvcomment import _comment

    table = world.thread(thread_id, fork).comments
    positions = range(len(table)) if positions is None else positions
    picked = [i for i in positions if not table.deleted[i]]
    return {
        "id": thread_id,
        "fork": fork,
        "comments": [_comment(table, i, "trunk") for i in picked],
    }


def test_the_demo_history_flattened_by_ytdlp_keeps_its_owner_comments(world, tmp_path):
    targets = world.nvcomment_targets(BIG_VIDEO_ID)
    assert [fork for _, fork in targets] == ["owner", "main", "easy"]
    threads = [_v1_thread(world, thread_id, fork) for thread_id, fork in targets]
    rows = _imported_forks(tmp_path, "demo [sm9].comments.json", as_ytdlp_writes(threads))
    assert _by_fork(rows) == {t["fork"]: len(t["comments"]) for t in threads}
    assert _by_fork(rows)["owner"] == 20
    assert rows == [(t["fork"], c["no"], c["body"]) for t in threads for c in t["comments"]]


@pytest.mark.parametrize("video_id", [BIG_VIDEO_ID, REAL_NM_VIDEO_ID, MEDIUM_VIDEO_ID])
def test_what_ytdlp_downloads_from_the_emulator_imports_with_its_forks(sandbox, tmp_path, video_id):
    """yt-dlp's own requests: watch data (v3_guest), then one POST of nvComment's params to
    /v1/threads; the answer's threads (owner whole, main and easy as their current window)."""
    import requests

    www = sandbox.env()["NICO_WWW_URL"]
    headers = {"X-Frontend-Id": "6", "X-Frontend-Version": "0"}
    watch = requests.get(
        f"{www}/api/watch/v3_guest/{video_id}",
        params={"actionTrackId": "AAAAAAAAAA_1700000000000"},
        headers=headers,
        timeout=30,
    ).json()
    nv_comment = watch["data"]["comment"]["nvComment"]
    answer = requests.post(
        f"{nv_comment['server']}/v1/threads",
        data=json.dumps(
            {
                "additionals": {},
                "params": nv_comment["params"],
                "threadKey": nv_comment["threadKey"],
            }
        ),
        headers={
            **headers,
            "Content-Type": "text/plain;charset=UTF-8",
            "X-Client-Os-Type": "others",
        },
        timeout=30,
    ).json()
    threads = answer["data"]["threads"]
    rows = _imported_forks(tmp_path, f"title [{video_id}].comments.json", as_ytdlp_writes(threads))
    assert rows == [(t["fork"], c["no"], c["body"]) for t in threads for c in t["comments"]]


def test_a_main_thread_starting_with_one_users_comments_is_not_taken_for_the_owner():
    # Numbered from 1 by one user, but posted in different seconds and no script: a viewer.
    data = json.dumps(
        [
            {"no": 1, "userId": "12345", "body": "うぽつ", "postedAt": "2020-01-01T00:00:00+09:00"},
            {"no": 2, "userId": "12345", "body": "888", "postedAt": "2020-01-01T00:00:05+09:00"},
            {"no": 3, "userId": "hashed", "body": "w", "postedAt": "2020-01-01T00:01:00+09:00"},
            {
                "no": 1,
                "userId": "other",
                "body": "かわいい",
                "postedAt": "2020-01-02T00:00:00+09:00",
            },
        ]
    ).encode()
    comments = _comments(read_ytdlp(io.BytesIO(data), "sm1"))
    assert [(c.fork, c.no) for c in comments] == [
        ("main", 1),
        ("main", 2),
        ("main", 3),
        ("easy", 1),
    ]


def test_an_owner_script_marks_a_lone_owner_comment():
    data = json.dumps(
        [
            {"no": 1, "userId": "358504", "body": "/isWide=true", "postedAt": 0},
            {"no": 40, "userId": "hashed", "body": "w", "postedAt": 10},
        ]
    ).encode()
    comments = _comments(read_ytdlp(io.BytesIO(data), "sm1"))
    assert [(c.fork, c.no) for c in comments] == [("owner", 1), ("main", 40)]


def test_nii_lines_get_synthetic_numbers_per_fork_and_japan_time():
    with (INTERCHANGE / "sm10.jsonl").open("rb") as stream:
        comments = _comments(read_nii(stream, "sm10"))
    assert [(c.thread_id, c.fork, c.no) for c in comments] == [
        ("nii:sm10", "main", -1),
        ("nii:sm10", "main", -2),
        ("nii:sm10", "main", -3),
        ("nii:sm10", "owner", -1),
        ("nii:sm10", "easy", -1),
    ]
    # "2018-01-01 09:00:00" has no zone: Japan time, i.e. 00:00 UTC.
    assert [c.posted_at for c in comments] == [
        1514764800,
        1514764805,
        1514764810,
        1514764820,
        1514764830,
    ]
    assert comments[0].is_anonymous and comments[0].vpos_ms == 1000
    assert comments[2].content == "" and comments[2].commands == "big red"
    assert comments[0].user_id is None


def test_a_v1_postedat_without_a_zone_is_japan_time():
    data = (
        b'[{"id": "1", "fork": "main", "comments": [{"no": 1, "postedAt": "2020-01-01T09:00:00"}]}]'
    )
    [comment] = _comments(v1.read_v1(io.BytesIO(data)))
    assert comment.posted_at == 1577836800  # 00:00 UTC


def test_nii_2012_lines_keep_their_numbers():
    with (INTERCHANGE / "sm11.dat").open("rb") as stream:
        comments = _comments(read_nii(stream, "sm11"))
    assert [(c.no, c.content) for c in comments] == [(1, "うぽつ"), (2, ""), (2, "")]


def test_a_broken_nii_line_names_its_line():
    with pytest.raises(MalformedFile, match="line 2 is not JSON"):
        list(read_nii(io.BytesIO(b'{"date": 1, "vpos": 1}\n{"date": \n'), "sm1"))


def test_api_json_keeps_deleted_chats_and_reads_the_thread():
    with (INTERCHANGE / "sm9_api.json").open("rb") as stream:
        items = list(apijson.read_apijson(stream))
    [status] = [i for i in items if isinstance(i, ThreadStatus)]
    assert status.thread_id == "1173108780" and status.last_res == 5
    comments = _comments(items)
    assert [c.no for c in comments] == [3, 4, 5, 5]  # the duplicate is left to the store
    first, deleted = comments[0], comments[1]
    assert first == Comment(
        "1173108780",
        "main",
        3,
        1200,
        1173108900,
        "うぽつ",
        "184",
        5,
        "AbCd",
        True,
        True,
        False,
        None,
        -10,
        None,
    )
    assert deleted.is_deleted and deleted.deleted_reason == 2 and deleted.content == ""
    assert comments[2].nicoru_count == 3


@pytest.mark.parametrize("name", ["xxe.xml", "billion_laughs.xml"])
def test_xml_with_a_dtd_is_refused(name):
    with (
        fixture_path(f"legacy/{name}").open("rb") as stream,
        pytest.raises(MalformedFile, match="DTD"),
    ):
        list(read_xml(stream))


def test_truncated_xml_is_malformed():
    with (
        fixture_path("legacy/truncated.xml").open("rb") as stream,
        pytest.raises(MalformedFile, match="not well-formed"),
    ):
        list(read_xml(stream))


# --- the loader ---------------------------------------------------------------------------------


def test_importing_again_adds_nothing_and_every_file_gets_a_run(db_target):
    engine = store.open_db(db_target)
    try:
        paths = [YTDLP, INTERCHANGE / "sm10.jsonl", INTERCHANGE / "sm9_api.json"]
        first = list(import_files(engine, paths))
        again = list(import_files(engine, paths))
        with engine.connect() as connection:
            runs = store.run_rows(connection, "sm9", limit=10) + store.run_rows(connection, "sm10")
    finally:
        engine.dispose()
    assert [(r.format, r.video_id, r.read, r.added) for r in first] == [
        ("ytdlp", "sm9", 7, 7),
        ("nii", "sm10", 5, 5),
        ("apijson", "sm9", 4, 3),
    ]
    assert [r.added for r in again] == [0, 0, 0] and all(r.error is None for r in again)
    assert len(runs) == 6
    assert {(r["protocol"], r["mode"], r["status"]) for r in runs} == {
        ("import", "import", "completed")
    }
    assert {r["source"] for r in runs} == {str(p) for p in paths}
    assert sorted(r["comments_added"] for r in runs) == [0, 0, 0, 3, 5, 7]


def test_the_thread_of_an_imported_file_is_recorded(tmp_path):
    db = tmp_path / "n.db"
    _import(db, INTERCHANGE / "sm20_v1_response.json")
    rows = query(db, "SELECT thread_id, fork, video_id, comment_count FROM threads ORDER BY fork")
    assert rows == [
        ("1590000000", "easy", "sm20", 2),
        ("1590000000", "main", "sm20", 9),
        ("1590000000", "owner", "sm20", 2),
    ]


def test_the_video_comes_from_the_option_first(tmp_path):
    db = tmp_path / "n.db"
    [result] = _import(db, INTERCHANGE / "sm20_v1_data.json", video_id="sm21")
    assert result.video_id == "sm21"
    assert query(db, "SELECT DISTINCT video_id FROM comments") == [("sm21",)]


def test_a_file_broken_after_several_batches_leaves_nothing(tmp_path):
    db = tmp_path / "n.db"
    _import(db, INTERCHANGE / "sm9_api.json")  # comments stored before stay
    before = stored_comments(db)
    chats = "".join(
        f'<chat thread="77" no="{n}" vpos="{n}" date="{1300000000 + n}">c{n}</chat>'
        for n in range(1, 26)
    )
    broken = tmp_path / "sm77.xml"
    broken.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><packet>{chats}<chat no="x">', "utf-8"
    )
    [result] = _import(db, broken, batch_size=4)  # six batches committed before the break
    assert isinstance(result.error, MalformedFile) and "sm77.xml" in str(result.error)
    assert "nothing of it was stored" in str(result.error)
    # The reader's own error, framed (file, outcome) by the job: its kind and words unchanged.
    assert result.error.where == f"cannot import {broken}"
    assert result.error.hint == "nothing of it was stored"
    assert result.error.message.startswith("not well-formed XML")
    assert stored_comments(db) == before
    assert query(db, "SELECT count(*) FROM videos WHERE video_id = 'sm77'") == [(0,)]
    assert query(db, "SELECT count(*) FROM threads WHERE thread_id = '77'") == [(0,)]
    [(status, error, added)] = query(
        db, "SELECT status, error, comments_added FROM fetch_runs WHERE source = ?", str(broken)
    )
    assert status == "failed" and "not well-formed" in error and added == 0


def test_a_zip_archive_is_read_member_by_member(tmp_path):
    archive = tmp_path / "nii-part-0001.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(INTERCHANGE / "sm10.jsonl", "0001/sm10.jsonl")
        zf.write(INTERCHANGE / "sm11.dat", "0001/sm11.dat")
        zf.writestr("0001/README.txt", "not comments")
    db = tmp_path / "n.db"
    results = _import(db, archive)
    assert [(r.source, r.video_id, r.added) for r in results] == [
        (f"{archive}!0001/sm10.jsonl", "sm10", 5),
        (f"{archive}!0001/sm11.dat", "sm11", 2),
    ]
    assert query(db, "SELECT count(*) FROM fetch_runs WHERE protocol = 'import'") == [(2,)]


def test_nii_without_a_video_id_is_refused(tmp_path):
    unnamed = tmp_path / "comments.jsonl"
    unnamed.write_bytes((INTERCHANGE / "sm10.jsonl").read_bytes())
    [result] = _import(tmp_path / "n.db", unnamed)
    assert isinstance(result.error, BadInput) and "--video" in str(result.error)
    [ok] = _import(tmp_path / "n.db", unnamed, video_id="sm10")
    assert ok.added == 5


def test_a_missing_path_is_reported_and_the_others_still_import(tmp_path):
    results = _import(tmp_path / "n.db", tmp_path / "nope.xml", INTERCHANGE / "sm10.jsonl")
    assert "no such file" in str(results[0].error)
    assert results[1].added == 5


# --- every real sample -------------------------------------------------------------------------

# Files in ../shared/samples that are not comment files of a supported format, and why.
NICOCAST = "api_json/synthetic_third_party/nicoCast__test_data__"
NOT_COMMENT_FILES = {
    "api_json/niconicome__CommentRequest_sm9.request.json": "an api.json request, not an answer",
    f"{NICOCAST}no-mail__result.json": "nicoCast's own output format",
    f"{NICOCAST}simple__result.json": "nicoCast's own output format",
    f"{NICOCAST}no-mail__thread.json": "a lone thread object, no comments",
    f"{NICOCAST}simple__thread.json": "a lone thread object, no comments",
}
SUPPORTED_FOLDERS = ("legacy_xml", "legacy_xml_live", "api_json", "nvcomment_v1")


def _samples():
    if SHARED is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SHARED_REASON))]
    root = SHARED / "samples"
    return sorted(
        str(p.relative_to(root))
        for folder in SUPPORTED_FOLDERS
        for p in (root / folder).rglob("*")
        if p.is_file() and str(p.relative_to(root)) not in NOT_COMMENT_FILES
    )


@pytest.mark.parametrize("relative", _samples())
def test_every_real_sample_imports(relative, tmp_path):
    path = SHARED / "samples" / relative
    db = tmp_path / "n.db"
    [result] = _import(db, path)
    assert result.error is None, result.error
    assert result.read > 0 and result.added > 0
    assert query(db, "SELECT count(*) FROM comments") == [(result.added,)]
    [again] = _import(db, path)
    assert again.added == 0


def test_the_real_samples_keep_what_matters():
    if SHARED is None:
        pytest.skip(SHARED_REASON)
    samples = SHARED / "samples"
    with (samples / "legacy_xml/saccubus2__sm14097905_thread_1302222473.xml").open("rb") as f:
        comments = _comments(read_xml(f))
    assert len({(c.fork, c.no) for c in comments}) == 1020
    assert sum(c.fork == "owner" for c in comments) == 900
    with (samples / "legacy_xml/danmaku2ass__issue-9-test.xml").open("rb") as f:
        items = list(read_xml(f))
    assert formats.VideoHint("sm23726371") in items
    assert sum(c.is_deleted for c in _comments(items)) == 3
    with (samples / "legacy_xml_live/dtlnor_nicodanmaku2ass__new2.xml").open("rb") as f:
        live = _comments(read_xml(f))
    assert [c.no for c in live] == list(range(-1, -72, -1))  # numbered in file order
    with (
        samples / "legacy_xml/seo4d_NicoCommentAPITest_extracted/result_3_sm9__version20061206.xml"
    ).open("rb") as f:
        doubled = _comments(read_xml(f))
    assert len(doubled) == 1999 and len({c.no for c in doubled}) == 1000


@pytest.mark.parametrize(
    "relative",
    [
        "apijson/niconicome_request_sm9.json",  # the same request, kept in tests/fixtures
        "samples/api_json/niconicome__CommentRequest_sm9.request.json",
        "reference/protocol-samples/legacy_apijson_request_sm9_niconicome.json",
    ],
)
def test_an_api_json_request_is_refused_as_a_request(nico, tmp_path, relative):
    request = fixture_path(relative) if relative.startswith("apijson/") else shared_file(relative)
    result = nico("import", request, "--db", tmp_path / "n.db")
    assert result.exit_code == 2
    assert "is an api.json request" in result.stderr and "not the server's answer" in result.stderr
    assert query(tmp_path / "n.db", "SELECT count(*) FROM comments") == [(0,)]


def test_nicos_own_exports_are_recognised_from_their_first_bytes():
    assert (
        sniff_format(b'{"video_id":"sm9","thread_id":"1","fork":"main","no":1,"posted_at":"x"}')
        == "jsonl"
    )
    assert sniff_format(b"video_id,thread_id,fork,no,vpos_ms,posted_at,content\r\n") == "csv"
    assert sniff_format(b"PAR1\x15\x04") == "parquet"
    assert sniff_format(b'{"date": 1, "vpos": 2, "content": "x"}\n') == "nii"


def _line(**changes) -> bytes:
    row = {"video_id": "sm9", "thread_id": "1", "fork": "main", "no": 1, "vpos_ms": 0}
    return json.dumps({**row, "posted_at": "2020-01-01T00:00:00Z", **changes}).encode() + b"\n"


CSV_HEAD = b"thread_id,fork,no,vpos_ms,posted_at,is_premium\r\n"


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("a.jsonl", _line(no="x"), "line 1: column no"),
        ("a.jsonl", _line(fork="no such fork"), "column fork"),  # new forks ("ai") are words
        ("a.jsonl", _line() + _line(video_id="sm8", no=2), "line 2: a row of video sm8"),
        ("a.csv", b"video_id,thread_id,fork,no\r\nsm9,1,main,1\r\n", "lacks posted_at, vpos_ms"),
        ("a.csv", CSV_HEAD + b"1,main,1,0,2020-01-01T00:00:00Z,yes\r\n", "column is_premium"),
        ("a.parquet", b"PAR1 not really", "not a readable Parquet file"),
    ],
)
def test_a_broken_export_is_refused_naming_the_problem(tmp_path, name, data, error):
    path = tmp_path / name
    path.write_bytes(data)
    [result] = _import(tmp_path / "n.db", path, fmt=path.suffix[1:])
    assert isinstance(result.error, BadInput) and error in str(result.error)
    assert query(tmp_path / "n.db", "SELECT count(*) FROM comments") == [(0,)]
