"""Walking a program's past through backward chains (live.md §6).

Pure: the walk takes functions that read the view stream at a moment, a backward answer and
(optionally) a segment, and yields one `PastBatch` per answer read. The caller stores each batch
before asking for the next, which makes the walk resumable: what is stored is always one
unbroken stretch from the first seed down to the oldest message, so a walk started again with
``start`` = that message's second + `RESEED_OVERLAP` carries on where the last one stopped.

The rules, and why:

* Seed the view call at ``start`` (``?at=now`` when there is none) and follow the
  `BackwardSegment` it names. ``?at=now`` may give only ``next`` (*reported*), so when a view
  answer names no backward segment, ask again further back: 90 s, 180 s, 360 s … before the seed,
  and finally the program's begin time + 60 s (its begin time, when that is not yet past).
* Follow `PackedSegment.next` to the end of the chain. Every message is de-duplicated on its
  message id (chains overlap), over the whole walk.
* A backward chain holds what came before its ``until``; the slices from there to the seed are
  the view answer's ``previous`` and ``segment`` entries. With ``fetch_segment`` the walk reads
  them too (the view answer up to its ``next``); without it, it stops reading the answer at the
  backward entry. Seconds a round did not cover are reported as ``skipped``, never hidden.
* A chain can end before the program's start (*reported*, ~60 % into an 18-hour program). When
  it does, re-seed the view call from the oldest message reached (a comment's moment from its
  vpos, any other message's from its posting time). Two deliberate departures
  from live.md's "beginTime + vpos/100 − 5 s", both so that nothing falls between two rounds:
  the moment is vposBaseTime + vpos/100, since vpos counts from vposBaseTime (live.md §3; the
  two agree when the program opened as it began, and when it opened earlier the literal formula
  seeds minutes after the oldest comment, where a short chain adds nothing and ends the walk);
  and the seed is 5 s *after* that moment, not before: the new round then covers up to the
  oldest comment whether the server starts its chain at the seed or at the slice before it,
  where a seed 5 s before it leaves those seconds to no round. A round that brings nothing new
  (a chain too short to get past the overlap) gets one more try seeded at the oldest
  message's own second.
* The beginning is reached when the walk has read down to the program's first moment (the
  earlier of its begin time and vposBaseTime: comments of the waiting time between opening and
  beginning are kept): a message at or before it, or a segment (a time slice, read whole)
  starting at or before it. Nothing else is evidence: a chain that ends, or a round that brings
  nothing new, may be the server's early end (*reported*) or its having lost the older part.
  Real programs' first comment comes some time after they begin, so when a round brings nothing
  new the walk steps back slice by slice (a view seeded at the second before the lowest moment
  read names that slice and the one before it) through the quiet seconds down to the first
  moment, at most `QUIET_ROUNDS` rounds.
* Stop when the beginning is reached (`REACHED_BEGIN`, the only ending that proves the history
  complete); when a round brings nothing new and stepping back reads no lower
  (`NOTHING_NEW`); when re-seeding would not move back (`NO_PROGRESS`); or when no view answer
  names a backward segment (`NO_BACKWARD`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, MutableSet
from dataclasses import dataclass

from nicocomments.live.parse import (
    BackwardSegment,
    LiveComment,
    LiveItem,
    MessageSegment,
    PackedBatch,
    ReadyForNext,
    ViewEntry,
)

FetchView = Callable[[int | None], Iterable[ViewEntry]]  # the view answer at a moment (None: now)
FetchBackward = Callable[[str], PackedBatch]  # one backward answer, parsed
FetchSegment = Callable[[str], Iterable[LiveItem]]  # one segment's messages, parsed

PROBE_STEP = 90  # seconds: the first step back when a view answer names no backward segment
BEGIN_PROBE_OFFSET = 60  # seconds after the begin time: the last moment probed
RESEED_OVERLAP = 5  # seconds after the oldest message reached that a re-seeded round starts
QUIET_ROUNDS = 200  # rounds stepping back slice by slice through seconds with no new message

# Why a walk ended.
REACHED_BEGIN = "reached the program's beginning"
NOTHING_NEW = "the last round brought nothing new"
NO_PROGRESS = "re-seeding would not go further back"
NO_BACKWARD = "the message server offered no backward chain"


@dataclass(frozen=True)
class PastBatch:
    """One answer's new messages, and where the walk stands."""

    items: list[LiveItem]  # messages not seen before in this walk, in the server's order
    uri: str | None  # the backward or segment answer they came from; None on a closing batch
    chain: int  # 0 for the first round, one more for every re-seed
    seed_at: int | None  # the view moment the round came from (None: now)
    oldest_at: int | None  # the oldest message's moment reached so far, Unix seconds
    # Seconds [from, to) the walk should have covered but did not read: messages there may be
    # missing. Set on a round's first backward batch (the seconds between its chain and what
    # the round before reached) and on the last batch when the walk stops short of the
    # beginning (the seconds from the program's first moment to the oldest message reached).
    skipped: tuple[tuple[int, int], ...] = ()
    done: str | None = None  # why the walk ended, on its last batch


def iter_past(
    fetch_view: FetchView,
    fetch_backward: FetchBackward,
    *,
    begin_time: int,
    vpos_base_time: int,
    now: int,
    start: int | None = None,
    seen: MutableSet[str] | None = None,
    fetch_segment: FetchSegment | None = None,
) -> Iterator[PastBatch]:
    """Yield the program's past, newest round first, one batch per answer read.

    ``seen`` holds the message ids already had (it is filled as the walk goes); ``start`` is
    the moment to seed from (None: now)."""
    seen = set() if seen is None else seen
    walk = _Walk(min(begin_time, vpos_base_time), vpos_base_time)
    segments_read: set[str] = set()
    seed, chain = start, 0
    target = now if start is None else start  # what this round should cover, up to
    while True:
        found = _find_backward(
            fetch_view,
            seed,
            now if seed is None else seed,
            begin_time,
            with_segments=fetch_segment is not None,
        )
        if found is None:
            skipped = _window(walk.floor, target)
            yield PastBatch([], None, chain, seed, walk.oldest_at, skipped, NO_BACKWARD)
            return
        moment, backward, segments = found
        covered = backward.until_at
        if covered is None:
            covered = now if moment is None else moment
        added = 0
        # Newest slice first, then the chain: what is stored stays one unbroken stretch from
        # the seed down, so a walk resumed from its oldest comment leaves nothing behind.
        segments.sort(key=_newest_first)
        for segment in segments if fetch_segment is not None else ():
            if segment.until_at is not None:
                covered = max(covered, segment.until_at)
            if segment.uri in segments_read:
                continue
            segments_read.add(segment.uri)
            new = walk.take(list(fetch_segment(segment.uri)), seen)
            walk.read_slice(segment)
            added += len(new)
            yield PastBatch(new, segment.uri, chain, moment, walk.oldest_at)
        skipped = _window(covered, target)
        visited: set[str] = set()
        uri: str | None = backward.uri
        while uri is not None:
            visited.add(uri)
            packed = fetch_backward(uri)
            new = walk.take(packed.items, seen)
            added += len(new)
            following = packed.next_uri if packed.next_uri not in visited else None
            done = None
            if following is None:  # the chain ends here: decide before the caller commits
                next_seed, done = walk.next_round(moment, added)
                if done is not None and done != REACHED_BEGIN:
                    # The beginning was not reached: what lies before here is not known.
                    skipped += _window(walk.floor, walk.covered_to or target)
            yield PastBatch(new, uri, chain, moment, walk.oldest_at, skipped, done)
            if done is not None:
                return
            skipped = ()
            uri = following
        seed, chain, target = next_seed, chain + 1, walk.covered_to


class _Walk:
    """What the walk has reached so far."""

    def __init__(self, floor: int, vpos_base_time: int) -> None:
        self.floor = floor  # the program's first moment
        self.vpos_base_time = vpos_base_time
        self.oldest: float | None = None  # the oldest message's moment
        self.lowest_slice: int | None = None  # where the oldest segment read starts
        self.tried_at: int | None = None  # the last seed tried without overlap
        self.quiet_rounds = 0  # rounds spent stepping back slice by slice

    def take(self, items: list[LiveItem], seen: MutableSet[str]) -> list[LiveItem]:
        new = []
        for item in items:
            moment = self._moment(item)
            if moment is not None and (self.oldest is None or moment < self.oldest):
                self.oldest = moment
            if item.message_id is None or item.message_id in seen:
                continue  # signals carry no id: they are stream control, not history
            seen.add(item.message_id)
            new.append(item)
        return new

    def read_slice(self, segment: MessageSegment) -> None:
        """A segment read whole: every message of its seconds is had."""
        start = segment.from_at
        if start is not None and (self.lowest_slice is None or start < self.lowest_slice):
            self.lowest_slice = start

    def _moment(self, item: LiveItem) -> float | None:
        """A comment's moment from its vpos; any other message's from its posting time."""
        if isinstance(item, LiveComment):
            return self.vpos_base_time + item.vpos_ms / 1000
        return getattr(item, "posted_at", None)

    @property
    def oldest_at(self) -> int | None:
        """The oldest message's moment, Unix seconds (rounded down)."""
        return None if self.oldest is None else math.floor(self.oldest)

    @property
    def covered_to(self) -> int | None:
        """The second down to which everything is read: the start of the oldest slice read, or
        the second after the oldest message's (messages of that same second may not have come
        yet), whichever is lower. What the next round must cover up to."""
        bounds = [self.lowest_slice, None if self.oldest is None else self.oldest_at + 1]
        known = [bound for bound in bounds if bound is not None]
        return min(known) if known else None

    def reached_begin(self) -> bool:
        """The one rule: a message or a slice start at or before the program's first moment."""
        return any(
            low is not None and low <= self.floor for low in (self.oldest_at, self.lowest_slice)
        )

    def next_round(self, moment: int | None, added: int) -> tuple[int | None, str | None]:
        """Where the next round is seeded, or why the walk ends. A round that brought something
        new starts 5 s after the oldest message; one that brought nothing new (or would not
        move back) gets one more try at the oldest message's own second, where the chain
        cannot spend itself on the overlap; after that, rounds step back slice by slice from
        the lowest moment read, until the first moment (or nothing lower is read)."""
        if self.reached_begin():
            return None, REACHED_BEGIN
        oldest = self.oldest_at
        before = math.inf if moment is None else moment
        if oldest is not None:
            if added and oldest + RESEED_OVERLAP < before:
                return oldest + RESEED_OVERLAP, None
            if oldest < before and self.tried_at != oldest:
                self.tried_at = oldest
                return oldest, None
        low = self.covered_to
        if low is not None and low - 1 < before and self.quiet_rounds < QUIET_ROUNDS:
            self.quiet_rounds += 1
            return low - 1, None
        return None, NO_PROGRESS if added else NOTHING_NEW


def _find_backward(
    fetch_view: FetchView,
    seed: int | None,
    base: int,
    begin_time: int,
    *,
    with_segments: bool,
) -> tuple[int | None, BackwardSegment, list[MessageSegment]] | None:
    """The first view moment, from ``seed`` back, whose answer names a backward segment, with
    that entry and the answer's segments (read to its ``next`` only ``with_segments``)."""
    for moment in _probes(seed, base, begin_time):
        backward = None
        segments: list[MessageSegment] = []
        entries = iter(fetch_view(moment))
        try:
            for entry in entries:
                if isinstance(entry, BackwardSegment) and backward is None:
                    backward = entry
                elif isinstance(entry, MessageSegment):
                    segments.append(entry)
                elif isinstance(entry, ReadyForNext):
                    break  # the answer has named everything it will
                if backward is not None and not with_segments:
                    break
        finally:
            close = getattr(entries, "close", None)
            if close is not None:
                close()  # stop reading a long-polled answer once it has said what we need
        if backward is not None:
            return moment, backward, segments
    return None


def _window(start: int, end: int) -> tuple[tuple[int, int], ...]:
    return ((start, end),) if start < end else ()


def _newest_first(segment: MessageSegment) -> float:
    moment = segment.until_at if segment.until_at is not None else segment.from_at
    return -math.inf if moment is None else -moment


def _probes(seed: int | None, base: int, begin_time: int) -> Iterator[int | None]:
    yield seed
    last = begin_time + BEGIN_PROBE_OFFSET
    if last >= base:  # a program younger than a minute (or a seed that close to its begin)
        last = begin_time
    step = PROBE_STEP
    while base - step > last:
        yield base - step
        step *= 2
    if last < base:
        yield last
