"""A hostile or broken server, end to end: `nico fetch` runs in a subprocess under a memory and a
time limit (tests/reliability.py) against the emulator, which answers what a server must never
answer. Every case ends in one ``Error:`` line with its documented exit code, stores nothing
wrong, and never lets a walk end on what it refused.
"""

from __future__ import annotations

import json
import re

import pytest

from nicocomments.limits import MAX_ANSWER_BYTES, MAX_COMMENT_CHARS
from nicosandbox import (
    BIG_THREAD_ID,
    BIG_VIDEO_ID,
    CHANNEL_VIDEO_ID,
    FaultPlan,
    build_world,
    expected_comments,
)
from tests.helpers import query, sorted_truth, stored_comments
from tests.reliability import one_error_line, run_limited

FAST = ("--interval", "0", "--backoff", "0", "--retries", "1")
GROUPS = {"nvcomment": "nvcomment", "legacy": "msg"}  # where each protocol's comments come from


def fetch(db, protocol, *args):
    return run_limited("fetch", BIG_VIDEO_ID, "--db", db, "--protocol", protocol, *FAST, *args)


def without_source(comments):
    return [c._replace(source=None) for c in comments]


@pytest.fixture
def small_world(logged_in):
    """The issue's scenario: sm9 with 1,640 comments, so the walk's first page holds 1,000."""
    world = build_world(seed=8, big_comments=1640)
    saved, logged_in.world = logged_in.world, world
    yield world
    logged_in.world = saved


# --- one bad value in an otherwise right answer (issue 8, item 1) ---------------------------------


def _v1_edit(field: str, value):
    """Change one comment in the middle of the first full page of the main thread."""

    def edit(body: bytes) -> bytes | None:
        answer = json.loads(body)
        [thread] = answer["data"]["threads"]
        comments = thread["comments"]
        if thread["fork"] != "main" or len(comments) < 1000:
            return None
        comments[len(comments) // 2][field] = value
        return json.dumps(answer, ensure_ascii=False).encode()

    return edit


_CHAT = re.compile(rb"<chat [^>]*>")


def _xml_edit(attribute: bytes, value: bytes):
    """Change one ``<chat>`` in the middle of the first full page of the main thread."""

    def edit(body: bytes) -> bytes | None:
        chats = _CHAT.findall(body)
        if len(chats) < 1000:
            return None
        chat = chats[len(chats) // 2]
        changed = re.sub(rb" " + attribute + rb'="[^"]*"', b' %s="%s"' % (attribute, value), chat)
        return body.replace(chat, changed, 1)

    return edit


# case: (v1 field and value, XML attribute and value, words of the error)
BAD_VALUES = {
    "no 0": (("no", 0), (b"no", b"0"), "comment no 0"),
    "no -5": (("no", -5), (b"no", b"-5"), "comment no -5"),
    "no 2**70": (("no", 2**70), (b"no", str(2**70).encode()), "is out of range"),
    "no far past the count": (("no", 10**6), (b"no", b"1000000"), "far beyond the 1,640"),
    "dated 1970": (("postedAt", "1970-01-01T09:00:00+09:00"), (b"date", b"0"), "1970-01-01"),
    "dated 2100": (
        ("postedAt", "2100-01-01T00:00:00+09:00"),
        (b"date", b"4102412400"),
        "in the future",
    ),
    # Before the video was posted (nvcomment knows when; the legacy protocol does not: before
    # Niconico opened, then).
    "dated before the video": (
        ("postedAt", "2007-01-01T00:00:00+09:00"),
        (b"date", b"1100000000"),
        "before",
    ),
}


@pytest.mark.parametrize("protocol", ["nvcomment", "legacy"])
@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_one_bad_value_is_refused_and_never_ends_the_walk(
    small_world, logged_in, tmp_path, protocol, case
):
    v1, xml, words = BAD_VALUES[case]
    group = GROUPS[protocol]
    logged_in.tamper(group, _v1_edit(*v1) if protocol == "nvcomment" else _xml_edit(*xml))
    truth = sorted_truth(expected_comments(small_world, BIG_VIDEO_ID, protocol))
    if protocol == "nvcomment":
        truth = without_source(truth)
    db = tmp_path / "n.db"

    result = fetch(db, protocol, "--all-history")
    assert result.returncode == 5, result.stderr[-2000:]
    line = one_error_line(result.stderr)
    assert f"thread {BIG_THREAD_ID} (main)" in line and words in line, line
    assert logged_in.stats.injected[group] == 1  # the edit was made
    stored = stored_comments(db, BIG_VIDEO_ID)
    stored = without_source(stored) if protocol == "nvcomment" else stored
    assert set(stored) <= set(truth)  # nothing wrong was stored…
    assert not any(c.fork == "main" for c in stored)  # …nor anything of the refused page
    assert query(db, "SELECT history_complete FROM threads WHERE fork = 'main'") == [(0,)]

    # The server answers right again: the same command walks the whole history, exactly.
    result = fetch(db, protocol, "--all-history")
    assert result.returncode == 0, result.stderr[-2000:]
    stored = stored_comments(db, BIG_VIDEO_ID)
    assert (without_source(stored) if protocol == "nvcomment" else stored) == truth
    assert query(db, "SELECT history_complete, history_end FROM threads WHERE fork = 'main'") == [
        (1, "reached comment no 1")
    ]


# --- watch data and getflv answers of the wrong shape (issue 8, items 1 and 9) ------------------


def _watch_edit(change):
    """Change the watch API's answer (``{"meta", "data"}``) with ``change(answer)``."""

    def edit(body: bytes) -> bytes | None:
        try:
            answer = json.loads(body)
        except ValueError:
            return None
        if not isinstance(answer, dict) or "data" not in answer:
            return None
        change(answer)
        return _dumps(answer)

    return edit


def _nv(answer):
    return answer["data"]["comment"]["nvComment"]


# Values nested a thousand deep (within orjson's limit, past Python's recursion limit) go into
# answers as text: even json.dumps cannot write them.
NESTED_1000 = "[" * 1000 + "]" * 1000
_DEEP = "__nested a thousand deep__"


def _dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).replace(f'"{_DEEP}"', NESTED_1000).encode()


WATCH_DATA = {
    "registeredAt in 2100": (
        lambda a: a["data"]["video"].update(registeredAt="2100-01-01T00:00:00+09:00"),
        "a posting time of 2099-12-31 15:00:00 UTC, which cannot be right",
    ),
    "registeredAt in 1970": (
        lambda a: a["data"]["video"].update(registeredAt="1970-01-01T09:00:00+09:00"),
        "which cannot be right",
    ),
    "registeredAt not a date": (
        lambda a: a["data"]["video"].update(registeredAt="yesterday"),
        "unreadable posting time",
    ),
    "threadKey a number": (lambda a: _nv(a).update(threadKey=12345), "thread key"),
    "targets a string": (
        lambda a: _nv(a)["params"].update(targets="1173108780"),
        "lists its comment threads in a shape nico cannot read",
    ),
    "a target a string": (
        lambda a: _nv(a)["params"].update(targets=["1173108780"]),
        "not an object",
    ),
    "data a list": (lambda a: a.update(data=[1, 2]), "no comment block"),
    "data nested 1,000 deep": (lambda a: a.update(data=_DEEP), "no comment block"),
    "error code nested 1,000 deep": (
        lambda a: a.update(meta={"status": 400, "errorCode": _DEEP}),
        "unknown error",
    ),
    "threads a list of strings": (
        lambda a: a["data"]["comment"].update(threads=["a", "b"]),
        None,  # not needed to read the comments: ignored, and the fetch works
    ),
    "server file:///etc/passwd": (
        lambda a: _nv(a).update(server="file:///etc/passwd"),
        "not an http(s) address",
    ),
    "server ftp://": (
        lambda a: _nv(a).update(server="ftp://nvcomment.example/"),
        "not an http(s) address",
    ),
}


@pytest.mark.parametrize("case", sorted(WATCH_DATA))
def test_watch_data_of_the_wrong_shape(logged_in, tmp_path, case):
    change, words = WATCH_DATA[case]
    logged_in.tamper("www", _watch_edit(change))
    db = tmp_path / "n.db"
    result = fetch(db, "nvcomment")
    assert logged_in.stats.injected["www"] == 1
    if words is None:
        assert result.returncode == 0, result.stderr[-2000:]
        return
    assert result.returncode == 5, result.stderr[-2000:]
    assert words in one_error_line(result.stderr)
    assert "root:" not in result.stderr
    assert query(db, "SELECT count(*) FROM comments") == [(0,)]
    assert logged_in.stats.requests["nvcomment"] == 0  # no comment server was ever asked


GETFLV = {
    "ms file:///etc/passwd": (rb"ms=[^&]*", b"ms=file%3A%2F%2F%2Fetc%2Fpasswd", "http(s)"),
    "ms ftp://": (rb"ms=[^&]*", b"ms=ftp%3A%2F%2Fmsg.example%2Fapi%2F", "http(s)"),
    "thread_id not a number": (rb"thread_id=[^&]*", b"thread_id=..%2F..%2Fx", "not a number"),
}


@pytest.mark.parametrize("case", sorted(GETFLV))
def test_getflv_answers_of_the_wrong_shape(logged_in, tmp_path, case):
    pattern, replacement, words = GETFLV[case]
    logged_in.tamper("flapi", lambda body: re.sub(pattern, replacement, body, count=1))
    db = tmp_path / "n.db"
    result = fetch(db, "legacy")
    assert result.returncode == 5, result.stderr[-2000:]
    assert words in one_error_line(result.stderr)
    assert "root:" not in result.stderr and logged_in.stats.requests["msg"] == 0


@pytest.mark.parametrize(
    "data",
    [
        "[1, 2]",
        '{"comment": [1]}',
        '{"comment": {"threads": "x"}}',
        f'{{"comment": {{"threads": [{{"fork": 0, "id": {NESTED_1000}}}]}}}}',
    ],
    ids=["data a list", "comment a list", "threads a string", "thread id nested 1,000 deep"],
)
def test_a_watch_page_of_the_wrong_shape_for_the_legacy_protocol(logged_in, tmp_path, data):
    # getflv does not know so… ids: the legacy client reads the thread off the watch page.
    content = ('{"meta": {"status": 200}, "data": ' + data + "}").replace('"', "&quot;")
    page = f'<html><head><meta name="server-response" content="{content}"></head></html>'
    logged_in.inject("www", page.encode(), content_type="text/html")
    result = run_limited("fetch", CHANNEL_VIDEO_ID, "--db", tmp_path / "n.db", "--protocol",
                         "legacy", *FAST)  # fmt: skip
    assert result.returncode == 4, result.stderr[-2000:]
    assert f"{CHANNEL_VIDEO_ID} was not found" in one_error_line(result.stderr)


# --- answers that never end, or end too late (issue 8, items 2 and 3) ---------------------------

HUGE = 500  # MiB: as large as the memory nico may use


@pytest.mark.parametrize(
    ("protocol", "group", "declare_length"),
    [
        ("nvcomment", "nvcomment", False),
        ("nvcomment", "www", True),
        ("legacy", "msg", True),
        ("legacy", "flapi", False),
    ],
    ids=[
        "v1-threads-streamed",
        "watch-data-declared",
        "message-server-declared",
        "getflv-streamed",
    ],
)
def test_a_500_mb_answer_is_refused_within_the_memory_limit(
    logged_in, tmp_path, protocol, group, declare_length
):
    filler = b" " * 2**20  # JSON and XML may both start with whitespace
    logged_in.inject(group, filler, repeat=HUGE, declare_length=declare_length)
    result = fetch(tmp_path / "n.db", protocol)
    assert result.returncode == 5, result.stderr[-2000:]
    assert f"answered more than {MAX_ANSWER_BYTES:,} bytes" in one_error_line(result.stderr)


@pytest.mark.parametrize("protocol", ["nvcomment", "legacy"])
def test_a_server_trickling_a_byte_a_second_cannot_stall_a_fetch(logged_in, tmp_path, protocol):
    group = GROUPS[protocol]
    logged_in.faults = FaultPlan(rate=1.0, kinds=("trickle",), targets=(group,))
    # Two attempts of 1 s (how soon is benchmarks/bench_deadline.py's to measure; a hang fails
    # at TIME_LIMIT).
    result = fetch(tmp_path / "n.db", protocol, "--timeout", "1")
    assert result.returncode == 6, result.stderr[-2000:]
    assert "no complete answer within 1 s" in one_error_line(result.stderr)
    assert logged_in.stats.faulted[group] == 2


# --- nesting and long text (issue 8, item 3) ------------------------------------------------------


def _v1_answer(body) -> bytes:
    comment = {"no": 1, "postedAt": "2008-01-01T00:00:00+09:00", "vposMs": 0, "body": body}
    thread = {"id": BIG_THREAD_ID, "fork": "owner", "commentCount": 1, "comments": [comment]}
    return _dumps({"meta": {"status": 200}, "data": {"threads": [thread]}})


def _packet(text: str) -> bytes:
    return (
        f'<packet><thread resultcode="0" thread="{BIG_THREAD_ID}" last_res="1"/>'
        f'<chat thread="{BIG_THREAD_ID}" no="1" vpos="0" date="1199113200">{text}</chat></packet>'
    ).encode()


NESTED = {
    "v1 answer of 200,000 nested arrays": (
        "nvcomment",
        b"[" * 200_000 + b"]" * 200_000,
        "without readable JSON (depth limit exceeded)",
    ),
    "v1 comment body nested 1,000 deep": (
        "nvcomment",
        _v1_answer(_DEEP),
        "a comment in the comment server's answer",
    ),
    "XML nested 100,000 deep": (
        "legacy",
        b"<packet>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</packet>",
        "not well-formed XML",
    ),
    "v1 comment text over the limit": (
        "nvcomment",
        _v1_answer("w" * (MAX_COMMENT_CHARS + 1)),
        f"longer than {MAX_COMMENT_CHARS:,} characters",
    ),
    "XML comment text over the limit": (
        "legacy",
        _packet("w" * (MAX_COMMENT_CHARS + 1)),
        f"longer than {MAX_COMMENT_CHARS:,} characters",
    ),
}


@pytest.mark.parametrize("case", sorted(NESTED))
def test_deep_nesting_and_long_text_are_bad_answers(logged_in, tmp_path, case):
    protocol, body, words = NESTED[case]
    content_type = "application/json" if protocol == "nvcomment" else "text/xml"
    logged_in.inject(GROUPS[protocol], body, content_type=content_type, times=2)
    result = fetch(tmp_path / "n.db", protocol)
    assert result.returncode == 5, result.stderr[-2000:]
    assert words in one_error_line(result.stderr)


def test_a_watch_page_of_deeply_nested_json_is_a_bad_answer(logged_in, tmp_path):
    deep = "[" * 200_000 + "]" * 200_000
    page = f'<html><head><meta name="server-response" content="{deep}"></head></html>'
    logged_in.inject("www", b"<html>no API here</html>", status=404, content_type="text/html")
    logged_in.inject("www", page.encode(), content_type="text/html")
    result = fetch(tmp_path / "n.db", "nvcomment")
    assert result.returncode == 5, result.stderr[-2000:]
    assert "server-response meta tag is not JSON" in one_error_line(result.stderr)


@pytest.mark.parametrize(
    "body", [b"[" * 200_000, b"{}" * 3, b"<html>busy</html>", b'{"meta": {"errorCode": 7}}']
)
def test_a_live_api_error_body_that_is_not_the_apis_json_is_no_error_code(body):
    """The timeshift API's error answer read for its code: a body nested past any parser's depth,
    not JSON, or without a string code says none (it was RecursionError: exit 1, "a bug")."""
    import requests

    from nicocomments.live.client import _api_error

    response = requests.Response()
    response.status_code, response._content = 403, body
    response.headers["Content-Type"] = "application/json"
    assert _api_error(response) == (None, None)
    response._content = b'{"meta": {"errorCode": "DUPLICATED", "errorMessage": "x"}}'
    assert _api_error(response) == ("DUPLICATED", "x")
