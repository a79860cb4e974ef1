"""Pure parsers of the legacy protocol, on real payloads (and a few hostile ones)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from lxml import etree

from nicocomments.errors import BadAnswer, LoginRequired, Refused, VideoNotFound, VideoUnavailable
from nicocomments.legacy import (
    RESULTCODES,
    build_packet,
    parse_getflv,
    parse_packet,
    parse_threadkey,
    parse_waybackkey,
)
from nicocomments.records import ThreadRef
from tests.conftest import fixture_path, shared_file

SEO4D = "samples/legacy_xml/seo4d_NicoCommentAPITest_extracted"


# --- getflv --------------------------------------------------------------------------------


def test_getflv_sm9_2014():
    text = shared_file("reference/protocol-samples/getflv_default_sm9.txt").read_text()
    flv = parse_getflv(text, "sm9")
    assert flv.thread_id == "1173108780"
    assert flv.duration_s == 319
    assert flv.message_server == "http://msg.nicovideo.jp/10/api/"
    assert flv.user_id == "20929324"
    assert flv.is_premium is True
    assert flv.needs_key is False
    assert flv.optional_thread_id is None
    assert [(t.thread_id, t.fork, t.needs_key) for t in flv.threads()] == [
        ("1173108780", "owner", False),
        ("1173108780", "main", False),
    ]


def test_getflv_sm9_2018_carries_a_userkey():
    text = shared_file(
        "samples/getflv/unidentified_repo_id44226727553__getflv_sm9_2018.txt"
    ).read_text()
    flv = parse_getflv(text)
    assert flv.thread_id == "1173108780"
    assert flv.duration_s == 320
    assert flv.message_server == "http://nmsg.nicovideo.jp/api/"
    assert flv.userkey and flv.userkey.startswith("1528013284.~1~")


def test_getflv_channel_video_needs_a_key_and_has_an_ordinary_thread():
    text = shared_file("reference/protocol-samples/getflv_channel_ngch_elided.txt").read_text()
    flv = parse_getflv(text)
    assert (flv.thread_id, flv.optional_thread_id, flv.needs_key) == (
        "1398234206",
        "1398234205",
        True,
    )
    refs = flv.threads()
    assert [(t.thread_id, t.fork, t.label, t.needs_key) for t in refs] == [
        ("1398234205", "owner", "owner", False),
        ("1398234206", "main", "community", True),
        ("1398234205", "main", "default", False),
    ]


@pytest.mark.parametrize(
    "path",
    ["samples/getflv/saccubus2__getflv.txt", "samples/getflv/saccubus2__sm14097905_play_info.txt"],
)
def test_getflv_saccubus_samples(path):
    flv = parse_getflv(shared_file(path).read_text())
    assert flv.thread_id == "1302222473"
    assert flv.message_server.startswith("http://")


def test_getflv_deleted_video():
    text = shared_file("reference/protocol-samples/getflv_deleted.txt").read_text()
    with pytest.raises(VideoUnavailable, match="so1 is private"):
        parse_getflv(text, "so1")


@pytest.mark.parametrize(
    "path",
    [
        "reference/protocol-samples/getflv_error.txt",
        "samples/getflv/unidentified_repo_id44226727553__getflv_error_invalid_thread.txt",
    ],
)
def test_getflv_invalid_thread(path):
    with pytest.raises(VideoNotFound, match="sm404 was not found"):
        parse_getflv(shared_file(path).read_text(), "sm404")


def test_getflv_closed_means_not_logged_in():
    with pytest.raises(LoginRequired):
        parse_getflv("closed=1&done=true", "sm9")


def test_getflv_other_errors_and_garbage():
    with pytest.raises(Refused, match="access_locked"):
        parse_getflv("error=access_locked&done=true", "sm9")
    with pytest.raises(BadAnswer):
        parse_getflv("<html>maintenance</html>", "sm9")


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("thread_id=1&ms=file%3A%2F%2F%2Fetc%2Fpasswd", "not an http(s) address"),
        ("thread_id=1&ms=ftp%3A%2F%2Fmsg.example%2F", "not an http(s) address"),
        ("thread_id=1&ms=%2Fapi%2F", "not an http(s) address"),
        ("thread_id=..%2Fx&ms=http%3A%2F%2Fmsg.example%2F", "thread_id that is not a number"),
        ("thread_id=%EF%BC%91&ms=http%3A%2F%2Fmsg.example%2F", "thread_id that is not a number"),
        ("thread_id=1&optional_thread_id=x&ms=http%3A%2F%2Fm.example%2F", "optional_thread_id"),
    ],
)
def test_getflv_naming_what_nico_must_not_ask(answer, words):
    with pytest.raises(BadAnswer, match=re.escape(words)):
        parse_getflv(answer, "sm9")


# --- keys ----------------------------------------------------------------------------------


def test_threadkey_real_answer():
    text = fixture_path("getthreadkey/niconicome.txt").read_text()
    assert parse_threadkey(text) == ("1611461521.GIWx_XyM-juZoqSIdvEOU9rIYy8", "1")


def test_empty_keys_mean_no_key():
    assert parse_threadkey("") is None
    assert parse_waybackkey("waybackkey=") is None
    assert parse_waybackkey("waybackkey=1494930258.CCLkvC6-3gV4xT4Uo1gs5MBs5Xg\n") == (
        "1494930258.CCLkvC6-3gV4xT4Uo1gs5MBs5Xg"
    )


# --- building requests ------------------------------------------------------------------------


def _thread_attrs(packet: bytes) -> dict:
    root = etree.fromstring(packet)
    assert root.tag == "packet" and len(root) == 1
    return dict(root[0].attrib)


def test_main_thread_request():
    ref = ThreadRef("1173108780", "main", "default")
    attrs = _thread_attrs(build_packet(ref, user_id="25408", userkey="1528013284.~1~abc"))
    assert attrs == {
        "thread": "1173108780",
        "version": "20090904",
        "res_from": "-1000",
        "user_id": "25408",
        "userkey": "1528013284.~1~abc",
        "scores": "1",
        "nicoru": "1",
        "with_global": "1",
    }


def test_owner_thread_request():
    ref = ThreadRef("1173108780", "owner", "owner")
    attrs = _thread_attrs(build_packet(ref, user_id="25408", userkey="k"))
    assert attrs["version"] == "20061206"
    assert attrs["fork"] == "1"
    assert attrs["res_from"] == "-1000"


def test_past_log_request_never_sends_the_userkey():
    ref = ThreadRef("1173108780", "main", "default")
    attrs = _thread_attrs(
        build_packet(ref, user_id="25408", userkey="k", when=1493634240, waybackkey="w.1")
    )
    assert attrs["when"] == "1493634240"
    assert attrs["waybackkey"] == "w.1"
    assert "userkey" not in attrs


def test_key_protected_request_sends_threadkey_not_userkey():
    ref = ThreadRef("1397552685", "main", "community", needs_key=True)
    attrs = _thread_attrs(build_packet(ref, user_id="1", userkey="k", threadkey=("t.1", "1")))
    assert (attrs["threadkey"], attrs["force_184"]) == ("t.1", "1")
    assert "userkey" not in attrs


# --- parsing answers ------------------------------------------------------------------------


def test_2015_answer_all_elements():
    data = shared_file(
        "reference/protocol-samples/legacy_xml_response_2015_sm16654069.xml"
    ).read_bytes()
    packet = parse_packet(data)
    assert [t.resultcode for t in packet.threads] == [0, 0]
    status = packet.threads[0]
    assert (status.thread_id, status.last_res, status.global_num_res) == ("1326108478", 223, 223)
    assert status.ticket == "0x355f0000"
    first = packet.comments[0]
    assert first.thread_id == "1326108478"
    assert (first.no, first.vpos_ms, first.posted_at) == (1, 22450, 1326108738)
    assert first.content == "うぽつですー！"
    assert first.commands == "184"
    assert first.user_id == "dFvy1h5EQQhlG0ch42uCL0VTiR4"
    assert first.is_premium and first.is_anonymous and not first.is_deleted
    assert first.fork == "main"
    assert len(packet.comments) == 2


def test_deleted_chats_are_kept_as_deleted_rows():
    data = shared_file("samples/legacy_xml/danmaku2ass__issue-9-test.xml").read_bytes()
    packet = parse_packet(data)
    assert len(packet.comments) == 184
    deleted = [c for c in packet.comments if c.is_deleted]
    assert [c.no for c in deleted] == [59, 70, 104]
    assert all(c.deleted_reason == 2 and c.content == "" and c.user_id is None for c in deleted)
    assert packet.comments[0].user_id == "752789"  # not anonymous: a numeric user id
    assert not packet.comments[0].is_anonymous


def test_owner_thread_and_main_thread_in_one_answer():
    data = shared_file(
        "samples/legacy_xml/saccubus2__sm14097905_thread_1302222473.xml"
    ).read_bytes()
    packet = parse_packet(data)
    forks = Counter(c.fork for c in packet.comments)
    assert forks == {"main": 120, "owner": 900}  # `no` restarts per fork: both kept
    owner = [c for c in packet.comments if c.fork == "owner"]
    assert all(c.user_id is None for c in owner)
    assert sum(c.content == " " for c in owner) == 27  # whitespace-only comments survive
    assert [t.fork for t in packet.threads] == ["main", "main", "owner"]
    scored = next(c for c in packet.comments if c.no == 117 and c.fork == "main")
    assert scored.score == -430


def test_duplicated_chats_collapse():
    # With version 20061206 the server sent every chat twice (thread + thread_leaves).
    data = shared_file(f"{SEO4D}/result_3_sm9__version20061206.xml").read_bytes()
    assert data.count(b"<chat ") == 1999
    packet = parse_packet(data)
    assert len(packet.comments) == 1000
    assert sum(c.is_deleted for c in packet.comments) == 95


SEO4D_UNIQUE = {
    "result_3_sm9__version20090904.xml": 999,
    "result_3_sm1097445__version20090904.xml": 1002,
    "result_3_sm15630734__version20090904.xml": 1093,
    "result_3_sm30469574__version20090904.xml": 1000,
    "result_3_sm31314079__version20090904.xml": 1039,
}


@pytest.mark.parametrize(("name", "unique"), sorted(SEO4D_UNIQUE.items()))
def test_real_2017_answers(name, unique):
    packet = parse_packet(shared_file(f"{SEO4D}/{name}").read_bytes())
    assert len(packet.comments) == unique
    assert all(t.resultcode == 0 for t in packet.threads)


def test_every_real_2017_answer_parses():
    directory = shared_file(f"{SEO4D}/result_1_sm9__version20090904.xml").parent
    files = sorted(directory.glob("*.xml"))
    assert len(files) == 51
    for path in files:
        packet = parse_packet(path.read_bytes())
        assert packet.threads, path.name
        assert all(c.no > 0 for c in packet.comments), path.name


def test_escaped_quotes_in_2017_text():
    packet = parse_packet(
        shared_file(f"{SEO4D}/result_3_sm30469574__version20090904.xml").read_bytes()
    )
    assert any("'" in c.content or '"' in c.content for c in packet.comments)
    assert not any("&apos;" in c.content or "&quot;" in c.content for c in packet.comments)


def test_chats_without_fork_belong_to_the_fork_asked_for():
    data = (
        b'<packet><thread resultcode="0" thread="7"/>'
        b'<chat thread="7" no="1" vpos="0" date="1300000000">a</chat></packet>'
    )
    assert parse_packet(data, default_fork="owner").comments[0].fork == "owner"


# --- hostile and broken answers -----------------------------------------------------------


def test_external_entities_are_never_resolved():
    with pytest.raises(BadAnswer, match="DTD"):
        parse_packet(fixture_path("legacy/xxe.xml").read_bytes())


def test_billion_laughs_is_refused_quickly():
    with pytest.raises(BadAnswer, match="DTD"):
        parse_packet(fixture_path("legacy/billion_laughs.xml").read_bytes())


@pytest.mark.parametrize("name", ["legacy/truncated.xml", "legacy/malformed.xml"])
def test_broken_xml_is_a_bad_answer(name):
    with pytest.raises(BadAnswer, match="not well-formed"):
        parse_packet(fixture_path(name).read_bytes())


def test_wrong_root_and_bad_numbers():
    with pytest.raises(BadAnswer, match="<html>"):
        parse_packet(b"<html><body>maintenance</body></html>")
    with pytest.raises(BadAnswer, match="non-numeric"):
        parse_packet(b'<packet><chat thread="1" no="x" vpos="0" date="1">a</chat></packet>')


def test_every_resultcode_has_a_message():
    assert sorted(RESULTCODES) == list(range(18))
    assert all(name and message for name, message in RESULTCODES.values())


# --- thread numbers from watch pages (for so… ids, which getflv never knew) -----------------


@pytest.mark.parametrize(
    ("name", "thread_id"),
    [
        ("watchdata_2021_comment_block_sm9.json", "1173108780"),
        # a channel video: the key-protected "community" thread is the one getflv calls thread_id
        ("watchdata_2021_comment_block_so36605534.json", "1585880646"),
        ("watchdata_2025_so_channel_redacted_unidentified.json", "2222222222"),
    ],
)
def test_thread_number_from_real_watch_data(name, thread_id):
    import json

    from nicocomments.legacy import thread_id_from_watch_data

    data = json.loads(shared_file(f"reference/protocol-samples/{name}").read_text())
    assert thread_id_from_watch_data({"data": {"response": data}}) == thread_id
    assert thread_id_from_watch_data(data) == thread_id
