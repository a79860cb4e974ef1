"""The backward walk by `when`, against fake servers with both readings of `when`."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nicocomments.history import (
    BEFORE_POSTING,
    CAUGHT_UP,
    EMPTY_PAGE,
    REACHED_FIRST,
    iter_history,
)
from nicocomments.records import Comment, Page, ThreadStatus

T0 = 1_300_000_000


def thread_of(dates: list[int]) -> list[Comment]:
    """Comments numbered 1..n in posting order."""
    return [
        Comment("1", "main", no, 0, posted_at, f"c{no}")
        for no, posted_at in enumerate(sorted(dates), start=1)
    ]


class FakeServer:
    """The last `page_size` comments posted at or before (or strictly before) `when`."""

    def __init__(self, comments, *, page_size=1000, inclusive=True, shuffle=None):
        self.comments = comments
        self.page_size = page_size
        self.inclusive = inclusive
        self.shuffle = random.Random(shuffle) if shuffle is not None else None
        self.requests: list[int] = []

    def __call__(self, when: int) -> Page:
        self.requests.append(when)
        eligible = [
            c
            for c in self.comments
            if (c.posted_at <= when if self.inclusive else c.posted_at < when)
        ]
        page = eligible[-self.page_size :]
        if self.shuffle is not None:
            page = page[:]
            self.shuffle.shuffle(page)
        return Page(ThreadStatus("1", "main", last_res=len(self.comments)), page)


def walk(server, *, start, floor=0, stop_no=1):
    steps = list(iter_history(server, start=start, floor=floor, stop_no=stop_no))
    seen = {c.no for step in steps for c in step.page.comments}
    return steps, seen


def test_plain_history_is_walked_to_comment_one():
    comments = thread_of([T0 + i * 7 for i in range(5000)])
    server = FakeServer(comments)
    steps, seen = walk(server, start=T0 + 10**6)
    assert seen == set(range(1, 5001))
    assert steps[-1].done == REACHED_FIRST
    # Each boundary second is asked for twice (the one-second overlap): 999 new a page.
    assert len(server.requests) == 6
    assert [s.next_when for s in steps[:-1]] == [
        min(c.posted_at for c in s.page.comments) + 1 for s in steps[:-1]
    ]


@pytest.mark.parametrize("inclusive", [True, False])
def test_bursts_across_page_boundaries_lose_nothing(inclusive):
    dates = [T0 + i * 10 for i in range(3000)]
    # 40 comments in one second right where the first page boundary falls
    dates[1980:2020] = [T0 + 20_000] * 40
    comments = thread_of(dates)
    steps, seen = walk(FakeServer(comments, inclusive=inclusive), start=T0 + 10**6)
    assert seen == set(range(1, 3001))
    assert all(step.skipped is None for step in steps)


def test_unordered_pages_use_the_oldest_of_the_whole_page():
    comments = thread_of([T0 + i * 3 for i in range(4000)])
    steps, seen = walk(FakeServer(comments, shuffle=7), start=T0 + 10**6)
    assert seen == set(range(1, 4001))
    assert len(steps) == 5


def test_a_second_holding_more_than_a_page_is_stepped_over_and_reported():
    dates = [T0 + i for i in range(500)] + [T0 + 5000] * 1500 + [T0 + 6000 + i for i in range(500)]
    comments = thread_of(dates)
    server = FakeServer(comments)
    steps, seen = walk(server, start=T0 + 10**6)
    skipped = [s.skipped for s in steps if s.skipped]
    assert skipped and all(T0 + 5000 <= lo <= hi <= T0 + 5001 for lo, hi in skipped)
    missing = set(range(1, 2501)) - seen
    # Only comments from the reported second are missing, and the walk still got to no 1.
    assert missing and all(comments[no - 1].posted_at == T0 + 5000 for no in missing)
    assert steps[-1].done == REACHED_FIRST


def test_stops_on_an_empty_page_when_no_one_is_never_returned():
    comments = thread_of([T0 + i for i in range(1500)])[3:]  # numbers 1-3 were purged
    steps, seen = walk(FakeServer(comments), start=T0 + 10**6)
    assert steps[-1].done == EMPTY_PAGE
    assert seen == set(range(4, 1501))


def test_stops_when_the_cursor_passes_the_posting_time():
    # Numbers 1-4 are gone and one comment claims to predate the video.
    comments = thread_of([T0 - 200 + i for i in range(5)] + [T0 + i for i in range(1, 2000)])[4:]
    steps, _ = walk(FakeServer(comments), start=T0 + 10**6, floor=T0)
    assert steps[-1].done == BEFORE_POSTING


def test_catching_up_stops_at_the_newest_stored_comment():
    comments = thread_of([T0 + i for i in range(5000)])
    server = FakeServer(comments)
    steps, seen = walk(server, start=T0 + 10**6, stop_no=3500)
    assert steps[-1].done == CAUGHT_UP
    assert len(server.requests) == 2
    assert set(range(3500, 5001)) <= seen


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(
        st.one_of(st.integers(0, 0), st.integers(1, 5), st.integers(100, 100_000)),
        min_size=1,
        max_size=900,
    ),
    page_size=st.sampled_from([10, 25, 100]),
    inclusive=st.booleans(),
    shuffle=st.one_of(st.none(), st.integers(0, 1000)),
)
def test_walk_finds_everything_outside_reported_seconds(gaps, page_size, inclusive, shuffle):
    dates, t = [], T0
    for gap in gaps:
        t += gap
        dates.append(t)
    comments = thread_of(dates)
    server = FakeServer(comments, page_size=page_size, inclusive=inclusive, shuffle=shuffle)
    steps, seen = walk(server, start=t + 1)
    assert len(server.requests) < len(comments) + 50  # it always terminates
    reported = [s.skipped for s in steps if s.skipped]
    for no in set(range(1, len(comments) + 1)) - seen:
        date = comments[no - 1].posted_at
        assert any(lo <= date <= hi for lo, hi in reported), (no, date, reported)
