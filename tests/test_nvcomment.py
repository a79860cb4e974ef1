"""Pure parsers of today's protocol, on the real watch data and /v1/threads payloads."""

from __future__ import annotations

import html
import json
import re
from collections import Counter

import pytest

from nicocomments.errors import (
    BadAnswer,
    LoginRequired,
    Refused,
    ServerUnavailable,
    VideoNotFound,
    VideoUnavailable,
)
from nicocomments.nvcomment import (
    REASON_CODES,
    parse_api_response,
    parse_error,
    parse_thread_key,
    parse_threads,
    parse_watch_data,
    watch_error,
)
from nicocomments.watchpage import parse_watch_page
from tests.conftest import shared_file

SAMPLES = "reference/protocol-samples"


def _watch(name: str) -> dict:
    """The extracted samples hold the watch data's blocks (comment, video, viewer) directly."""
    data = json.loads(shared_file(f"{SAMPLES}/{name}").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def test_2021_guest_watch_data():
    watch = parse_watch_data(_watch("watchdata_2021-12_nvComment_sm37658498_guest.json"))
    assert watch.video.video_id == "sm37658498"
    assert watch.server == "https://nvcomment.nicovideo.jp"
    assert watch.thread_key.startswith("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9.")
    assert watch.language == "ja-jp"
    assert [(t.thread_id, t.fork, t.label) for t in watch.video.threads] == [
        ("1602464225", "owner", "owner"),
        ("1602464225", "main", "default"),
        ("1602464225", "easy", "easy"),
    ]
    assert watch.viewer_id is None


def test_2021_logged_in_watch_data():
    watch = parse_watch_data(_watch("watchdata_2021-12_nvComment_sm37658498_tasuren.json"))
    assert watch.viewer_id == "86146818"
    assert watch.video.viewer_is_premium is False


def test_2025_channel_watch_data_has_targets_on_two_threads():
    watch = parse_watch_data(_watch("watchdata_2025_so_channel_redacted_unidentified.json"), "so1")
    assert watch.server == "https://public.nvcomment.nicovideo.jp"
    assert [(t.thread_id, t.fork, t.label, t.needs_key) for t in watch.video.threads] == [
        ("1111111111", "owner", "owner", False),
        ("2222222222", "main", "community", True),
    ]
    assert watch.video.video_id == "so1"  # the redacted sample has no video block


@pytest.mark.parametrize(
    "name",
    ["watchdata_2021_comment_block_sm9.json", "watchdata_2021_comment_block_so36605534.json"],
)
def test_2021_watch_data_without_nvcomment_is_a_clear_error(name):
    with pytest.raises(BadAnswer, match="no nvComment"):
        parse_watch_data(_watch(name), "sm9")


def test_envelopes_of_watch_data():
    data = _watch("watchdata_2021-12_nvComment_sm37658498_guest.json")
    api = {"meta": {"status": 200}, "data": data}
    page = {"meta": {"status": 200}, "data": {"metadata": {}, "response": data}}
    assert parse_api_response(api) == data
    assert parse_api_response(page) == data
    assert parse_api_response(data) == data


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["comment"]["nvComment"].update(threadKey=12345), "not a string"),
        (lambda d: d["comment"]["nvComment"]["params"].update(targets="1"), "cannot read"),
        (lambda d: d["comment"]["nvComment"]["params"].update(targets=[7]), "not an object"),
        (lambda d: d["comment"]["nvComment"].update(server="file:///etc/passwd"), "http(s)"),
        (lambda d: d["comment"]["nvComment"].update(server="ftp://x/"), "http(s)"),
        (lambda d: d["comment"]["nvComment"].update(params=[]), "cannot read"),
        (lambda d: d["video"].update(registeredAt="2100-01-01T00:00:00+09:00"), "cannot be right"),
        (lambda d: d["video"].update(registeredAt=[1]), "unreadable posting time"),
        (lambda d: d["video"].update(id="sm" + "9" * 40), "longer than 32"),
    ],
)
def test_watch_data_of_the_wrong_types_is_a_bad_answer(change, words):
    data = _watch("watchdata_2021-12_nvComment_sm37658498_guest.json")
    change(data)
    with pytest.raises(BadAnswer, match=re.escape(words)):
        parse_watch_data(data, "sm37658498")


@pytest.mark.parametrize("data", [[], [1], "x", 5, None])
def test_watch_data_that_is_not_an_object(data):
    with pytest.raises(BadAnswer, match="no comment block"):
        parse_api_response({"meta": {"status": 200}, "data": data})


def test_the_watch_pages_meta_tag():
    data = {
        "meta": {"status": 200},
        "data": {"response": _watch("watchdata_2021-12_nvComment_sm37658498_guest.json")},
    }
    content = html.escape(json.dumps(data, ensure_ascii=False), quote=True)
    page = (
        '<!DOCTYPE html><html><head><meta name="server-context" content="{}">'
        f'<meta name="server-response" content="{content}"></head><body></body></html>'
    )
    assert parse_watch_page(page.encode()) == data
    assert parse_watch_page(b"<html><head></head></html>") is None
    old = f'<html><body><div id="js-initial-watch-data" data-api-data="{content}"></div></body>'
    assert parse_watch_page(old) == data  # the 2017–2024 form


@pytest.mark.parametrize(
    ("payload", "kind", "words"),
    [
        (
            {"meta": {"status": 404, "errorCode": "NOT_FOUND"}, "data": {}},
            VideoNotFound,
            "was not found",
        ),
        (
            {
                "meta": {"status": 400, "errorCode": "FORBIDDEN"},
                "data": {"reasonCode": "PREMIUM_ONLY"},
            },
            Refused,
            "premium members only",
        ),
        (
            {
                "meta": {"status": 400, "errorCode": "FORBIDDEN"},
                "data": {"reasonCode": "CHANNEL_MEMBER_ONLY"},
            },
            Refused,
            "channel members only",
        ),
        (
            {
                "meta": {"status": 400, "errorCode": "FORBIDDEN"},
                "data": {"reasonCode": "DOMESTIC_VIDEO"},
            },
            Refused,
            "from Japan",
        ),
        (
            {
                "meta": {"status": 404, "errorCode": "NOT_FOUND"},
                "data": {"reasonCode": "HIDDEN_VIDEO"},
            },
            VideoUnavailable,
            "is private",
        ),
        (
            {"meta": {"status": 503, "errorCode": "MAINTENANCE"}, "data": {}},
            ServerUnavailable,
            "maintenance",
        ),
        (
            {"meta": {"status": 401, "errorCode": "UNAUTHORIZED"}, "data": {}},
            LoginRequired,
            "logged-in",
        ),
        (
            {
                "meta": {"status": 200},
                "data": {
                    "response": {
                        "isCustomError": True,
                        "statusCode": 403,
                        "errorCode": "FORBIDDEN",
                        "reasonCode": "PPV_VIDEO",
                    }
                },
            },
            Refused,
            "pay-per-view",
        ),
    ],
)
def test_watch_data_errors(payload, kind, words):
    with pytest.raises(kind, match=words):
        parse_api_response(payload)


def test_every_reason_code_has_a_message():
    for code, (kind, message) in REASON_CODES.items():
        assert issubclass(kind, Exception) and message
        assert str(watch_error("FORBIDDEN", code, "sm1")).startswith("sm1 ")
    assert "UNKNOWN_THING" in str(watch_error("FORBIDDEN", "UNKNOWN_THING", "sm1"))


def test_the_real_v1_threads_sample():
    payload = json.loads(
        shared_file("samples/nvcomment_v1/niwango.js__nm14999484.json").read_text()
    )
    pages = parse_threads(payload)
    assert [
        (p.thread.thread_id, p.thread.fork, p.thread.comment_count, len(p.comments)) for p in pages
    ] == [
        ("1310476906", "owner", 802, 802),
        ("1310476906", "main", 1378, 339),
        ("1310476906", "easy", 0, 0),
    ]
    owner, main = pages[0].comments, pages[1].comments
    first = owner[0]
    assert (first.no, first.vpos_ms, first.content, first.commands) == (1, 0, "/isWide=true", "")
    assert first.user_id == "358504" and first.is_premium and not first.is_anonymous
    assert first.posted_at == 1310889103  # 2011-07-17T16:51:43+09:00
    assert first.comment_id == "881781296213225472" and first.source == "trunk"
    leaf = next(c for c in main if c.no == 23)
    assert leaf.commands == "184" and leaf.is_anonymous
    assert leaf.score == -500 and leaf.nicoru_count == 0 and leaf.source == "leaf"
    assert Counter(c.source for c in main) == {"trunk": 250, "leaf": 89}
    assert any(c.score == -1650 for c in main)
    assert all(c.date_usec is None and not c.is_deleted for c in owner + main)


def test_the_full_response_envelope_and_duplicates():
    comment = {
        "id": "9",
        "no": 5,
        "vposMs": 1000,
        "body": "x",
        "commands": ["184", "red"],
        "userId": "u",
        "isPremium": False,
        "score": 0,
        "postedAt": "2020-01-01T09:00:00+09:00",
        "nicoruCount": 2,
        "nicoruId": None,
        "source": "trunk",
        "isMyPost": False,
    }
    payload = {
        "meta": {"status": 200},
        "data": {
            "globalComments": [{"id": "1", "count": 1}],
            "threads": [
                {"id": "1", "fork": "main", "commentCount": 5, "comments": [comment, comment]}
            ],
        },
    }
    [page] = parse_threads(payload)
    assert len(page.comments) == 1
    assert page.comments[0].posted_at == 1577836800
    assert page.comments[0].commands == "184 red"


def test_broken_v1_answers():
    with pytest.raises(BadAnswer):
        parse_threads({"meta": {"status": 200}, "data": {}})
    with pytest.raises(BadAnswer, match="postedAt"):
        parse_threads([{"id": "1", "fork": "main", "comments": [{"no": 1}]}])
    zoneless = {"no": 1, "postedAt": "2020-01-01T09:00:00"}  # the server always names the zone
    with pytest.raises(BadAnswer, match="postedAt"):
        parse_threads([{"id": "1", "fork": "main", "comments": [zoneless]}])


def test_a_numeric_user_id_comes_out_as_a_string():
    raw = {"no": 1, "postedAt": "2020-01-01T09:00:00+09:00", "userId": 358504, "source": "trunk"}
    [page] = parse_threads([{"id": "1", "fork": "owner", "comments": [raw]}])
    assert page.comments[0].user_id == "358504" and page.comments[0].source == "trunk"


def test_error_answers_and_keys():
    assert parse_error({"meta": {"status": 400, "errorCode": "EXPIRED_TOKEN"}}) == "EXPIRED_TOKEN"
    assert parse_error({"meta": {"status": 200}}) is None
    assert parse_thread_key({"meta": {"status": 200}, "data": {"threadKey": "k.e.y"}}) == "k.e.y"
    with pytest.raises(BadAnswer):
        parse_thread_key({"meta": {"status": 200}, "data": {}})
