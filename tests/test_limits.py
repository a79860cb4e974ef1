"""What nico accepts from outside (nicocomments.limits): ranges, plausibility, streamed JSON."""

from __future__ import annotations

import io
import json
import random

import pytest

from nicocomments.limits import (
    INT32,
    MAX_COMMENT_CHARS,
    BoundedJson,
    TooLarge,
    comment_problem,
    comments_problem,
    http_url,
    page_problem,
    posted_at_problem,
    shown,
    status_problem,
)
from nicocomments.records import Comment, Page, ThreadStatus

NOW = 1_700_000_000
POSTED = 1_300_000_000


def comment(**fields) -> Comment:
    values = {
        "thread_id": "1",
        "fork": "main",
        "no": 5,
        "vpos_ms": 0,
        "posted_at": POSTED + 100,
        "content": "うぽつ",
    }
    return Comment(**{**values, **fields})


def test_an_ordinary_comment_fits():
    assert comment_problem(comment()) is None
    assert comment_problem(comment(no=-3, score=-10000, date_usec=999_999)) is None


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"no": 2**70}, "comment no 1180591620717411303424 is out of range"),
        ({"no": INT32 + 1}, "out of range"),
        ({"vpos_ms": 2**70}, "vpos_ms out of range"),
        ({"posted_at": -1}, "date out of range"),
        ({"posted_at": 10**12}, "date out of range"),
        ({"score": 2**40}, "score out of range"),
        ({"nicoru_count": -(2**40)}, "nicoru_count out of range"),
        ({"date_usec": 2**31}, "date_usec out of range"),
        ({"deleted_reason": 40_000}, "deleted_reason out of range"),
        ({"content": "w" * (MAX_COMMENT_CHARS + 1)}, "longer than 65,536 characters"),
        ({"commands": "big " * MAX_COMMENT_CHARS}, "longer than 65,536 characters"),
        ({"user_id": "u" * 65}, "user_id longer than 64"),
        ({"comment_id": "1" * 25}, "comment_id longer than 24"),
        ({"source": "s" * 17}, "source longer than 16"),
        ({"thread_id": "9" * 33}, "thread_id longer than 32"),
        ({"message_id": "m" * 65}, "message_id longer than 64"),
        ({"name": "n" * (MAX_COMMENT_CHARS + 1)}, "longer than 65,536 characters"),
    ],
)
def test_what_no_column_can_hold(fields, words):
    bad = comment(**fields)
    assert words in comment_problem(bad)
    # A batch at a time, column by column: the same answer, with None in the columns too.
    batch = [
        comment(no=1, score=None),
        bad,
        comment(no=2, user_id="u", date_usec=5, message_id="m", is_overflowed=True, name="n"),
    ]
    assert comments_problem(batch) == comment_problem(bad)
    assert comments_problem([batch[0], batch[2]]) is None


def test_a_thread_status_that_no_column_can_hold():
    assert status_problem(ThreadStatus("1", "main", last_res=5, server_time=NOW)) is None
    assert "last_res out of range" in status_problem(ThreadStatus("1", "main", last_res=2**40))
    assert "server time" in status_problem(ThreadStatus("1", "main", server_time=2**62))


def page(*comments: Comment, count: int | None = 1640) -> Page:
    return Page(ThreadStatus("1", "main", comment_count=count), list(comments))


def test_a_plausible_page():
    assert page_problem(page(comment(no=1), comment(no=1640)), posted_at=POSTED, now=NOW) is None
    assert page_problem(page(), posted_at=POSTED, now=NOW) is None
    # A day before the posting time still counts (threads may open before the video).
    early = comment(posted_at=POSTED - 3600)
    assert page_problem(page(early), posted_at=POSTED, now=NOW) is None


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"no": 0}, "comment no 0 (comment numbers start at 1)"),
        ({"no": -5}, "comment no -5"),
        ({"no": 2**70}, "out of range"),
        ({"no": 50_000}, "far beyond the 1,640 comments the server counts"),
        ({"posted_at": 0}, "dated 1970-01-01 00:00:00 UTC, before the video's posting time"),
        ({"posted_at": POSTED - 2 * 86400}, "before the video's posting time"),
        ({"posted_at": NOW + 2 * 86400}, "in the future"),
    ],
)
def test_a_page_that_cannot_be_right(fields, words):
    problem = page_problem(page(comment(no=1000), comment(**fields)), posted_at=POSTED, now=NOW)
    assert problem is not None and words in problem


def test_without_a_posting_time_the_floor_is_when_niconico_opened():
    assert "before 2006-12" in page_problem(page(comment(posted_at=1_000_000_000)), now=NOW)
    assert page_problem(page(comment(posted_at=1_170_000_000)), now=NOW) is None


def test_a_posting_time_that_cannot_be_right():
    assert posted_at_problem(POSTED, now=NOW) is None
    assert "4102444800" in posted_at_problem(4_102_444_800, now=NOW) or "2100" in (
        posted_at_problem(4_102_444_800, now=NOW)
    )
    assert posted_at_problem(0, now=NOW) is not None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://public.nvcomment.nicovideo.jp", True),
        ("http://127.0.0.1:8080/nvcomment", True),
        ("file:///etc/passwd", False),
        ("ftp://example.com/", False),
        ("https://", False),
        ("//example.com", False),
        ("http://[::1", False),
        (12345, False),
        (None, False),
    ],
)
def test_only_http_urls_with_a_host(value, ok):
    assert (http_url(value) is not None) is ok


def test_shown_cuts_long_text():
    assert shown("sm9") == "'sm9'"
    long = shown("x" * 100_000)
    assert len(long) < 100 and "100,000 characters" in long


# --- streamed JSON ------------------------------------------------------------------------------


def _depth(value) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (
                item.values() if isinstance(item, dict) else item
            ))  # fmt: skip
    return deepest


def _random_json(rng: random.Random, depth: int = 1):
    if depth > 10 or rng.random() < 0.3:
        # Strings full of what a careless scanner would count: brackets, quotes, backslashes.
        return rng.choice(['a"b\\', '\\\\"', "[{", "}]", "x" * rng.randint(0, 40), 12, None])
    if rng.random() < 0.5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f'k"[\\{i}': _random_json(rng, depth + 1) for i in range(rng.randint(0, 4))}


def _read_all(stream: BoundedJson, size: int) -> None:
    while stream.read(size):
        pass


def test_the_depth_is_followed_exactly_whatever_the_strings_and_the_reads():
    rng = random.Random(8)
    for _ in range(500):
        value = _random_json(rng)
        data = json.dumps(value).encode()
        deepest = _depth(value)
        for size in (1, 2, 5, 64):
            _read_all(BoundedJson(io.BytesIO(data), depth=deepest), size)
            if deepest:
                with pytest.raises(TooLarge, match=f"more than {deepest - 1:,} levels"):
                    _read_all(BoundedJson(io.BytesIO(data), depth=deepest - 1), size)


def test_two_hundred_thousand_nested_arrays_are_refused_at_once():
    data = b"[" * 200_000 + b"]" * 200_000
    stream = BoundedJson(io.BytesIO(data))
    with pytest.raises(TooLarge, match="more than 1,024 levels deep"):
        _read_all(stream, 65536)


@pytest.mark.parametrize("kind", ["string", "escaped string", "number"])
def test_a_string_or_number_going_on_past_the_limit_is_refused(kind):
    quote = b"" if kind == "number" else b'"'
    content = {"string": b"a" * 300_000, "escaped string": b'\\"\\\\' * 75_000}.get(
        kind, b"1" * 300_000
    )
    data = b'[{"body": ' + quote + content + quote + b"}]"
    _read_all(BoundedJson(io.BytesIO(data), token=len(content)), 65536)
    stream = BoundedJson(io.BytesIO(data))
    stream._token_limit = len(content) - 1  # the limit cannot be set below one read otherwise
    with pytest.raises(TooLarge, match="string or number is longer than"):
        _read_all(stream, 65536)
