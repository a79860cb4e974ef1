"""The walk through a program's past (live.md §6) against in-memory fakes of the message server:
full chains, chains that end early, overlapping chains, a view that first gives only ``next``."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from nicocomments.live.parse import (
    BackwardSegment,
    LiveComment,
    LiveEvent,
    LiveItem,
    MessageSegment,
    PackedBatch,
    ReadyForNext,
)
from nicocomments.live.past import (
    BEGIN_PROBE_OFFSET,
    NO_BACKWARD,
    NO_PROGRESS,
    NOTHING_NEW,
    PROBE_STEP,
    REACHED_BEGIN,
    RESEED_OVERLAP,
    PastBatch,
    iter_past,
)

LV = "lv9"
OPEN = 1_722_837_300
BEGIN = OPEN + 300
SLICE = 16  # seconds per segment in the fake


def _comment(no: int, moment: float, base: int = OPEN) -> LiveComment:
    vpos_ms = round((moment - base) * 100) * 10
    return LiveComment(
        LV, "live", no, vpos_ms, int(moment), f"c{no}", "", 0, "u", False, False, f"id{no}"
    )


def _gift(n: int, moment: float) -> LiveEvent:
    return LiveEvent(LV, f"gift{n}", int(moment), 0, "gift", {"point": "1"}, b"")


@dataclass
class FakeServer:
    """A message server over a fixed past. view(at) names the backward chain for everything
    before the slice before ``at``, that slice (previous) and ``at``'s own slice (segment)."""

    items: list[LiveItem]
    now: int
    vpos_base_time: int = OPEN
    batch: int = 5  # messages per backward answer
    chain_limit: int | None = None  # answers per chain before it ends early
    next_only: set = field(default_factory=set)  # view moments that name only `next`
    lost_before: float | None = None  # the server no longer has anything before this
    views: list = field(default_factory=list)
    backward_reads: list = field(default_factory=list)
    segment_reads: list = field(default_factory=list)
    served: list = field(default_factory=list)  # every message id served, repeats included
    closed_views: int = 0
    chain_from_seed: bool = False  # the backward chain starts at the seed itself, not a slice back

    def moment(self, item: LiveItem) -> float:
        if isinstance(item, LiveComment):
            return self.vpos_base_time + item.vpos_ms / 1000
        return item.posted_at

    def view(self, at):
        self.views.append(at)
        moment = self.now if at is None else at
        k = moment // SLICE
        try:
            if at in self.next_only:
                yield ReadyForNext((k + 1) * SLICE)
                return
            until = moment if self.chain_from_seed else (k - 1) * SLICE
            yield BackwardSegment(f"back:{until}:0", until)
            # A server that lost the older part has no slices there either.
            if self._served_slice((k - 1) * SLICE):
                yield MessageSegment(f"seg:{until}", until, k * SLICE, previous=True)
            if self._served_slice(k * SLICE):
                yield MessageSegment(f"seg:{k * SLICE}", k * SLICE, (k + 1) * SLICE)
            yield ReadyForNext((k + 1) * SLICE)
        finally:
            self.closed_views += 1

    def backward(self, uri: str) -> PackedBatch:
        self.backward_reads.append(uri)
        _, until, index = uri.split(":")
        until, index = int(until), int(index)
        older = sorted(
            (i for i in self.items if self.moment(i) < until and self._kept(i)),
            key=self.moment,
            reverse=True,
        )
        page = older[index * self.batch : (index + 1) * self.batch][::-1]
        more = (index + 1) * self.batch < len(older)
        if self.chain_limit is not None and index + 1 >= self.chain_limit:
            more = False
        self.served += [i.message_id for i in page]
        return PackedBatch(page, f"back:{until}:{index + 1}" if more else None)

    def segment(self, uri: str) -> list[LiveItem]:
        self.segment_reads.append(uri)
        start = int(uri.split(":")[1])
        page = [i for i in self.items if start <= self.moment(i) < start + SLICE and self._kept(i)]
        self.served += [i.message_id for i in page]
        return sorted(page, key=self.moment)

    def _served_slice(self, start: int) -> bool:
        return self.lost_before is None or start >= self.lost_before

    def _kept(self, item: LiveItem) -> bool:
        return self.lost_before is None or self.moment(item) >= self.lost_before


def _program(count: int, spacing: float = 7.3, start: float = OPEN, gifts: int = 0):
    """Comments from ``start`` (by default vpos 0: the program's first moment) and gifts."""
    items: list[LiveItem] = [_comment(n + 1, start + n * spacing) for n in range(count)]
    items += [_gift(n, start + 3 + n * spacing * count / max(gifts, 1)) for n in range(gifts)]
    return items


def _walk(server: FakeServer, *, segments: bool = True, **kwargs) -> list[PastBatch]:
    return list(
        iter_past(
            server.view,
            server.backward,
            begin_time=BEGIN,
            vpos_base_time=server.vpos_base_time,
            now=server.now,
            fetch_segment=server.segment if segments else None,
            **kwargs,
        )
    )


def _ids(batches: list[PastBatch]) -> list[str]:
    return [item.message_id for batch in batches for item in batch.items]


def _check_invariants(server: FakeServer, batches: list[PastBatch]) -> None:
    """No message twice; the end said once, on the last batch; everything the server had is
    either collected or inside a window the walk reported as skipped."""
    ids = _ids(batches)
    assert len(ids) == len(set(ids))
    assert [b.done is not None for b in batches] == [False] * (len(batches) - 1) + [True]
    windows = [window for b in batches for window in b.skipped]
    for item in server.items:
        if not server._kept(item) or item.message_id in ids:
            continue
        moment = server.moment(item)
        assert any(a <= moment < b for a, b in windows), (item, windows)


def test_a_full_chain_collects_everything_once_and_reaches_the_begin_time():
    items = _program(120, gifts=6)
    server = FakeServer(items, now=OPEN + 1000)
    batches = _walk(server)
    assert sorted(_ids(batches)) == sorted(i.message_id for i in items)
    assert batches[-1].done == REACHED_BEGIN
    assert {b.chain for b in batches} == {0}
    assert server.views == [None]  # one view call: no re-seed
    assert all(b.skipped == () for b in batches)  # the segments covered up to now
    _check_invariants(server, batches)


def test_without_segments_the_newest_seconds_are_reported_skipped():
    items = _program(120)
    server = FakeServer(items, now=int(OPEN + 120 * 7.3 + 5))
    batches = _walk(server, segments=False)
    k = server.now // SLICE
    assert batches[0].skipped == (((k - 1) * SLICE, server.now),)
    assert server.segment_reads == []
    # The view answer is left as soon as the backward entry is read: never waited out.
    assert server.closed_views == 1
    missing = {i.message_id for i in items} - set(_ids(batches))
    assert missing and all(
        batches[0].skipped[0][0] <= server.moment(i) for i in items if i.message_id in missing
    )
    _check_invariants(server, batches)


def test_chains_that_end_early_are_re_seeded_from_the_oldest_comment():
    items = _program(200, gifts=10)
    server = FakeServer(items, now=OPEN + 1500, batch=5, chain_limit=3)
    batches = _walk(server)
    assert sorted(_ids(batches)) == sorted(i.message_id for i in items)
    assert batches[-1].done == REACHED_BEGIN
    chains = sorted({b.chain for b in batches})
    assert len(chains) > 5
    # Each re-seed asks the view 5 s after the oldest comment reached by then.
    for chain in chains[1:]:
        first = next(b for b in batches if b.chain == chain)
        previous_oldest = [b.oldest_at for b in batches if b.chain == chain - 1][-1]
        assert first.seed_at == previous_oldest + RESEED_OVERLAP
    assert len(server.served) > len(set(server.served))  # the chains overlapped …
    _check_invariants(server, batches)  # … and nothing came out twice


def test_a_re_seed_overlaps_the_oldest_comment_so_no_second_falls_between_rounds():
    # A seed 5 s *before* the oldest comment (live.md's wording) names segments that can end
    # before that comment: the seconds between would belong to no round.
    items = _program(400, spacing=1.0)
    server = FakeServer(items, now=OPEN + 405, batch=7, chain_limit=2)
    batches = _walk(server)
    assert all(b.skipped == () for b in batches)
    assert sorted(_ids(batches)) == sorted(i.message_id for i in items)


def test_the_re_seed_uses_vpos_from_vpos_base_time_when_the_program_opened_early():
    # Comments dense and chains short: a seed at beginTime + vpos/100 (5 minutes after the
    # oldest comment here) would add nothing and end the walk long before the begin time.
    items = _program(400, spacing=1.0)
    server = FakeServer(items, now=OPEN + 420, batch=10, chain_limit=2)
    batches = _walk(server)
    assert batches[-1].done == REACHED_BEGIN
    assert sorted(_ids(batches)) == sorted(i.message_id for i in items)


def test_a_view_that_first_gives_only_next_is_asked_further_back():
    items = _program(150)
    now = OPEN + 1200
    server = FakeServer(items, now=now, next_only={None, now - PROBE_STEP})
    batches = _walk(server)
    assert server.views[:3] == [None, now - PROBE_STEP, now - 2 * PROBE_STEP]
    assert batches[0].seed_at == now - 2 * PROBE_STEP
    k = (now - 2 * PROBE_STEP) // SLICE
    skipped = next(b.skipped for b in batches if b.skipped)
    assert skipped == (((k + 1) * SLICE, now),)  # after the segments read, up to now
    assert batches[-1].done == REACHED_BEGIN
    _check_invariants(server, batches)


def test_probes_end_at_the_begin_time_plus_a_minute_then_give_up():
    now = BEGIN + 2000
    server = FakeServer(_program(10), now=now, next_only=set())
    server.next_only = _Everything()
    batches = _walk(server)
    assert server.views[0] is None
    steps = [now - v for v in server.views[1:-1]]
    assert steps == [PROBE_STEP * 2**n for n in range(len(steps))]
    assert server.views[-1] == BEGIN + BEGIN_PROBE_OFFSET
    assert all(v > BEGIN + BEGIN_PROBE_OFFSET for v in server.views[1:-1])
    assert batches == [PastBatch([], None, 0, None, None, ((OPEN, now),), NO_BACKWARD)]
    assert server.closed_views == len(server.views)


class _Everything:
    def __contains__(self, item):
        return True


def test_a_server_that_lost_the_older_part_ends_with_nothing_new_not_the_beginning():
    items = _program(100)
    lost = OPEN + 40 * 7.3  # the server lost everything before comment 41
    server = FakeServer(items, now=OPEN + 1000, chain_limit=4, lost_before=lost)
    batches = _walk(server)
    assert batches[-1].done == NOTHING_NEW
    assert batches[-1].oldest_at >= int(lost)  # the caller can tell the beginning was not reached
    assert sorted(_ids(batches)) == sorted(i.message_id for i in items if server._kept(i))
    _check_invariants(server, batches)


def test_a_program_whose_first_comment_came_late_steps_back_slice_by_slice_to_its_beginning():
    # As real programs: nothing between the opening and the first comment, 500 s later. Only
    # reading those seconds' slices shows the beginning was reached.
    items = _program(50, start=BEGIN + 200)
    server = FakeServer(items, now=BEGIN + 700)
    batches = _walk(server)
    assert sorted(_ids(batches)) == sorted(i.message_id for i in items)
    assert batches[-1].done == REACHED_BEGIN
    oldest = batches[-1].oldest_at  # one round overlapping the oldest comment, one from its
    assert server.views[:3] == [None, oldest + RESEED_OVERLAP, oldest]  # second, then slices:
    steps = server.views[3:]
    assert steps == sorted(steps, reverse=True) and all((s + 1) % SLICE == 0 for s in steps)
    assert (steps[-1] // SLICE - 1) * SLICE <= OPEN  # the last one named the opening's slice
    assert all(b.skipped == () for b in batches)  # every second in between was read
    _check_invariants(server, batches)


def test_without_reading_slices_a_late_first_comment_is_no_proof_of_the_beginning():
    items = _program(50, start=BEGIN + 200)
    server = FakeServer(items, now=BEGIN + 700)
    batches = _walk(server, segments=False)
    assert batches[-1].done == NOTHING_NEW
    assert batches[-1].skipped[-1] == (OPEN, batches[-1].oldest_at + 1)
    _check_invariants(server, batches)


def test_comments_of_the_waiting_time_before_the_begin_are_kept():
    items = _program(80, start=OPEN, spacing=10)  # open at OPEN, begin 300 s later
    server = FakeServer(items, now=OPEN + 900, chain_limit=3)
    batches = _walk(server)
    assert batches[-1].done == REACHED_BEGIN
    assert sorted(_ids(batches)) == sorted(i.message_id for i in items)
    assert min(server.moment(i) for b in batches for i in b.items) == OPEN


def test_an_empty_program():
    server = FakeServer([], now=BEGIN + 100)
    batches = _walk(server)
    assert [(b.items, b.done) for b in batches][-1] == ([], REACHED_BEGIN)  # every slice read
    assert min(int(uri.split(":")[1]) for uri in server.segment_reads) <= OPEN
    server = FakeServer([], now=BEGIN + 100)
    assert _walk(server, segments=False)[-1].done == NOTHING_NEW


def test_resuming_from_a_stored_moment_with_known_ids():
    items = _program(200)
    server = FakeServer(items, now=OPEN + 1600, chain_limit=3)
    first = []
    for batch in _walk(server):
        first.append(batch)
        if len(first) == 6:  # interrupted after storing six batches
            break
    stored = set(_ids(first))
    oldest = min(b.oldest_at for b in first if b.oldest_at is not None)
    resumed_server = FakeServer(items, now=OPEN + 1600, chain_limit=3)
    rest = _walk(resumed_server, start=oldest + RESEED_OVERLAP, seen=set(stored))
    assert resumed_server.views[0] == oldest + RESEED_OVERLAP
    assert stored.isdisjoint(_ids(rest))
    assert sorted(stored | set(_ids(rest))) == sorted(i.message_id for i in items)
    assert rest[-1].done == REACHED_BEGIN


def test_a_chain_whose_next_loops_back_ends():
    items = _program(30)

    class Looping(FakeServer):
        def backward(self, uri):
            batch = super().backward(uri)
            return PackedBatch(batch.items, uri)  # next points at itself

    server = Looping(items, now=OPEN + 500)
    batches = _walk(server, segments=False)
    assert server.backward_reads.count(server.backward_reads[0]) == 1
    assert batches[-1].done is not None


def test_a_re_seed_that_would_not_move_back_stops():
    # Every view answer names the same chain, whatever the moment: no re-seed can go back.
    class Stuck(FakeServer):
        def view(self, at):
            self.views.append(at)
            yield BackwardSegment("back:999999999999:0", None)

    items = _program(40)
    server = Stuck(items, now=OPEN + 400, chain_limit=2)
    batches = _walk(server, segments=False, start=OPEN + 50)
    assert batches[-1].done in (NO_PROGRESS, NOTHING_NEW)
    assert len(server.views) <= 3


@settings(max_examples=120, deadline=None)
@given(
    count=st.integers(0, 150),
    spacing=st.floats(0.2, 20),
    gifts=st.integers(0, 5),
    batch=st.integers(1, 12),
    chain_limit=st.one_of(st.none(), st.integers(1, 6)),
    next_only_now=st.booleans(),
    segments=st.booleans(),
    base_offset=st.sampled_from([0, 300]),  # vposBaseTime = begin, or the open time before it
    chain_from_seed=st.booleans(),
)
def test_any_program_any_chain_shape(
    count, spacing, gifts, batch, chain_limit, next_only_now, segments, base_offset, chain_from_seed
):
    base = BEGIN - base_offset
    start = base + 5
    items = [_comment(n + 1, start + n * spacing, base) for n in range(count)]
    items += [_gift(n, start + n * spacing + 0.5) for n in range(min(gifts, count))]
    now = int(start + count * spacing) + 30
    server = FakeServer(
        items,
        now=now,
        vpos_base_time=base,
        batch=batch,
        chain_limit=chain_limit,
        next_only={None} if next_only_now else set(),
        chain_from_seed=chain_from_seed,
    )
    batches = _walk(server, segments=segments)
    _check_invariants(server, batches)
    if segments and not next_only_now:
        # Nothing can be skipped when the segments are read: the walk gets everything.
        assert sorted(_ids(batches)) == sorted(i.message_id for i in items)
        # … and, its first comment 5 s after the first moment, gets there slice by slice.
        assert batches[-1].done == REACHED_BEGIN
