"""The shared field mappings and the one date reader (nicocomments.chats)."""

from __future__ import annotations

import pytest

from nicocomments.chats import unix_seconds
from nicocomments.records import JST


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
