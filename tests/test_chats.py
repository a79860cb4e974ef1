"""The shared field mappings and the one date reader (nicocomments.chats)."""

from __future__ import annotations

import pytest

from nicocomments.chats import unix_seconds, v1_comment
from nicocomments.records import JST, Comment


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-01-01T09:00:00+09:00", 1577836800),
        ("2020-01-01T00:00:00Z", 1577836800),
        (1577836800, 1577836800),
        (1577836800.7, 1577836800),
    ],
)
def test_unix_seconds(value, expected):
    assert unix_seconds(value) == expected
    assert unix_seconds(value, JST) == expected  # a named zone wins over the default


def test_a_date_without_a_zone_is_read_in_the_given_zone_or_refused():
    assert unix_seconds("2020-01-01T09:00:00", JST) == 1577836800
    with pytest.raises(ValueError, match="without a zone"):
        unix_seconds("2020-01-01T09:00:00")


@pytest.mark.parametrize("value", [None, "", True, "yesterday", [1]])
def test_what_is_not_a_date(value):
    with pytest.raises(ValueError):
        unix_seconds(value, JST)


def test_a_v1_comment():
    raw = {
        "id": 881781296213225472,
        "no": "5",
        "vposMs": 1230,
        "body": "うぽつ",
        "commands": ["184", 5],
        "userId": 358504,
        "isPremium": 1,
        "score": "-100",
        "postedAt": "2020-05-01T12:05:00+09:00",
        "nicoruCount": 2,
        "source": "leaf",
    }
    comment = v1_comment(raw, "1", "main")
    assert comment == Comment(
        thread_id="1",
        fork="main",
        no=5,
        vpos_ms=1230,
        posted_at=1588302300,
        content="うぽつ",
        commands="184 5",
        user_id="358504",
        is_premium=True,
        is_anonymous=True,
        score=-100,
        nicoru_count=2,
        comment_id="881781296213225472",
        source="leaf",
    )


@pytest.mark.parametrize(
    "raw", [{"postedAt": 0}, {"no": 1}, {"no": "x", "postedAt": 0}, {"no": 1, "postedAt": "x"}, []]
)
def test_a_broken_v1_comment(raw):
    with pytest.raises(ValueError, match="lacks no or postedAt"):
        v1_comment(raw, "1", "main", JST)
