"""The main job: collect one video's comments into the database, page by page.

This is where a protocol client (legacy or nvcomment), the history walker and the store meet.
Every page is committed in its own transaction together with the walk's cursor and the run's
counters, so a run stopped at any point (Ctrl-C, kill -9, network loss) resumes where it was.
Progress is reported through a `Progress` object; nothing here prints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from sqlalchemy import Engine

from nicocomments import store
from nicocomments.history import EMPTY_PAGE, Step, iter_history
from nicocomments.limits import earliest_date
from nicocomments.progress import Progress
from nicocomments.records import Page, ThreadRef, VideoInfo

log = logging.getLogger(__name__)

# --fill-gaps: missing ranges this close together are walked as one (pages hold up to 1000).
CLUSTER_REACH = 900
# An answer without `when` holds at most this many comments: one with fewer that runs from
# comment no 1 to the newest the server counts holds the whole (owner) thread.
WHOLE_ANSWER = 1000


class CommentClient(Protocol):
    """What both protocol clients offer."""

    protocol: str
    on_wait: Callable[[str], None] | None  # told about waits the protocol itself imposes

    def video_info(self, video_id: str) -> VideoInfo: ...

    def thread_page(self, ref: ThreadRef, when: int | None = None) -> Page: ...

    @property
    def requests_made(self) -> int: ...


@dataclass(frozen=True)
class FetchOptions:
    all_history: bool = False
    before: int | None = None  # Unix seconds: start a new walk here instead of now
    refresh: bool = False  # walk the whole history again even if it was completed


@dataclass
class ThreadOutcome:
    ref: ThreadRef
    stored: int = 0
    added: int = 0
    pages: int = 0
    end: str | None = None  # why its history walk ended, when it did
    unserved: int = 0  # stored comments a complete pass of this run no longer found
    # --fill-gaps: the numbers missing before and after the gap pass
    missing_before: list[tuple[int, int]] = field(default_factory=list)
    missing_after: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class FetchResult:
    video_id: str
    run_id: int
    protocol: str
    comments_added: int = 0
    pages: int = 0
    threads: list[ThreadOutcome] = field(default_factory=list)
    comments_unserved: int = 0  # stored comments a complete pass no longer found


def collect_video(
    engine: Engine,
    client: CommentClient,
    video_id: str,
    options: FetchOptions = FetchOptions(),
    progress: Progress | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> FetchResult:
    """Collect ``video_id`` with ``client`` into ``engine``; record the run in fetch_runs."""
    settings = {
        "all_history": options.all_history,
        "before": options.before,
        "refresh": options.refresh,
    }
    run_id = store.start_run(
        engine,
        video_id=video_id,
        protocol=client.protocol,
        mode="all-history" if options.all_history else "window",
        options={k: v for k, v in settings.items() if v},
    )
    job = _Job(engine, client, video_id, run_id, progress or Progress(), clock)
    return _finish(job, lambda: job.run(options))


def fill_gaps(
    engine: Engine,
    client: CommentClient,
    video_id: str,
    progress: Progress | None = None,
) -> FetchResult:
    """Ask again around the comment numbers missing from ``video_id``'s threads; each outcome
    says what was missing before and what is still missing (the server would not return it:
    typically deleted comments, which today's server leaves out)."""
    run_id = store.start_run(engine, video_id=video_id, protocol=client.protocol, mode="fill-gaps")
    job = _Job(engine, client, video_id, run_id, progress or Progress(), time.time)
    return _finish(job, job.fill)


def _finish(job: _Job, work: Callable[[], None]) -> FetchResult:
    """Run ``work`` and record how the run ended, however it ends."""
    store.run_recorded(job.engine, job.run_id, work, job.unsaved_requests)
    return job.result


class _Job:
    def __init__(
        self,
        engine: Engine,
        client: CommentClient,
        video_id: str,
        run_id: int,
        progress: Progress,
        clock: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.client = client
        self.video_id = video_id
        self.run_id = run_id
        self.progress = progress
        self.clock = clock
        self.result = FetchResult(video_id, run_id, client.protocol)
        self._requests_saved = client.requests_made
        self._unsaved_video: VideoInfo | None = None
        # The comment numbers each thread's pages held in this run, one bit each: what a
        # complete pass did not see is no longer served.
        self._seen: dict[tuple[str, str], bytearray] = {}

    def unsaved_requests(self) -> int:
        return self.client.requests_made - self._requests_saved

    def run(self, options: FetchOptions) -> None:
        info = self._video()
        floor = earliest_date(info.posted_at)
        for ref in info.threads:
            outcome, state = self._begin(ref)
            if ref.fork == "owner" or not options.all_history:
                # The owner thread is read once per run; without --all-history every thread
                # gets its current window.
                self.progress.thread_started(ref, stored=outcome.stored, phase="window")
                page = self.client.thread_page(ref)
                self._save(outcome, page, when=None)
                if ref.fork == "owner" and state.stored and _holds_whole_thread(page):
                    self._save_unserved(outcome, since=None, until=None)
            else:
                self._walk_thread(outcome, state, options, floor)
            self.progress.thread_finished(ref, stored=outcome.stored, end=outcome.end)

    def _walk_thread(
        self, outcome: ThreadOutcome, state: store.ThreadState, options: FetchOptions, floor: int
    ) -> None:
        ref = outcome.ref
        now = int(self.clock())
        start = options.before or now
        if options.refresh:
            store.save_retrying(
                self.engine, lambda c: store.forget_history(c, ref.thread_id, ref.fork)
            )
            state = state.forgotten()
        walked_before = state.history_complete or state.history_when is not None
        # A walk from now back to its end, all in this run, is a complete pass: what it did not
        # see of what was stored before (in the seconds its answers covered) is no longer served.
        whole = options.before is None and state.history_when is None and state.stored > 0
        if state.catchup_when is not None:
            # An earlier catch-up was interrupted: finish it first.
            self._catch_up(outcome, state.catchup_when, state.catchup_stop_no or 0, floor)
        elif walked_before and state.max_no is not None and options.before is None:
            # Comments newer than the newest stored one: walk back from now until we meet it.
            self._set(ref, catchup_when=now, catchup_stop_no=state.max_no)
            self._catch_up(outcome, now, state.max_no, floor)
        if state.history_complete:
            outcome.end = "already complete"
            return
        self.progress.thread_started(ref, stored=outcome.stored, phase="history")
        last: Step | None = None
        for step in iter_history(
            lambda when: self.client.thread_page(ref, when),
            start=state.history_when or start,
            floor=floor,
        ):
            if step.done is None:
                cursor = {"history_when": step.next_when}
            else:
                outcome.end = step.done
                cursor = {
                    "history_when": None,
                    "history_complete": True,
                    "history_end": step.done,
                    "history_completed_at": store.now_utc(),
                }
            self._save(outcome, step.page, when=step.when, cursor=cursor, skipped=step.skipped)
            last = step
        if whole and last is not None and last.done is not None:
            since = _covered_since(last, floor)
            if since <= start:
                self._save_unserved(outcome, since=since, until=start)

    def _save_unserved(self, outcome: ThreadOutcome, *, since: int | None, until: int | None):
        """After a complete pass: the stored comments (posted between ``since`` and ``until``)
        it did not see are no longer served; record them as deleted."""
        ref = outcome.ref
        seen = self._seen.get((ref.thread_id, ref.fork), bytearray())
        with self.engine.connect() as connection:
            candidates = store.served_nos(
                connection, ref.thread_id, ref.fork, self.run_id, since=since, until=until
            )
        missing = [no for no in candidates if not _has_bit(seen, no)]
        if not missing:
            return
        changed = store.save_retrying(
            self.engine,
            lambda connection: store.save_unserved(
                connection, self.run_id, ref.thread_id, ref.fork, missing
            ),
        )
        outcome.unserved += changed
        self.result.comments_unserved += changed
        log.info("thread %s (%s): %d comments no longer served", ref.thread_id, ref.fork, changed)

    def _catch_up(self, outcome: ThreadOutcome, start: int, stop_no: int, floor: int) -> None:
        ref = outcome.ref
        self.progress.thread_started(ref, stored=outcome.stored, phase="newer")
        for step in iter_history(
            lambda when: self.client.thread_page(ref, when),
            start=start,
            floor=floor,
            stop_no=stop_no,
        ):
            if step.done is None:
                cursor = {"catchup_when": step.next_when}
            else:
                cursor = {"catchup_when": None, "catchup_stop_no": None}
            self._save(outcome, step.page, when=step.when, cursor=cursor, skipped=step.skipped)

    def fill(self) -> None:
        """Walk back over every cluster of missing numbers, newest first."""
        info = self._video()
        floor = earliest_date(info.posted_at)
        for ref in info.threads:
            outcome, state = self._begin(ref)
            outcome.missing_before = self._missing(ref)
            self.progress.thread_started(ref, stored=outcome.stored, phase="gaps")
            if ref.fork == "owner":
                self._save(outcome, self.client.thread_page(ref), when=None)
            else:
                for low, high in _clusters(outcome.missing_before):
                    self._fill_cluster(outcome, low, high, state.max_no, floor)
            outcome.missing_after = self._missing(ref)
            self.progress.thread_finished(ref, stored=outcome.stored, end=None)

    def _begin(self, ref: ThreadRef) -> tuple[ThreadOutcome, store.ThreadState]:
        outcome = ThreadOutcome(ref)
        self.result.threads.append(outcome)
        with self.engine.connect() as connection:
            state = store.thread_state(connection, ref.thread_id, ref.fork)
        outcome.stored = state.stored
        return outcome, state

    def _missing(self, ref: ThreadRef) -> list[tuple[int, int]]:
        with self.engine.connect() as connection:
            count = store.server_count(connection, ref.thread_id, ref.fork)
            return store.missing_ranges(connection, ref.thread_id, ref.fork, count)

    def _fill_cluster(
        self, outcome: ThreadOutcome, low: int, high: int, max_no: int | None, floor: int
    ) -> None:
        ref = outcome.ref
        start = None
        if max_no is not None and high < max_no:
            with self.engine.connect() as connection:
                after = store.posted_at_of(connection, ref.thread_id, ref.fork, high + 1)
            # From the second of the first comment after the gap, plus one: the overlap rule.
            start = after + 1 if after is not None else None
        if start is None:
            start = int(self.clock())
        for step in iter_history(
            lambda when: self.client.thread_page(ref, when),
            start=start,
            floor=floor,
            stop_no=max(low - 1, 1),
        ):
            self._save(outcome, step.page, when=step.when, skipped=step.skipped)

    def _video(self) -> VideoInfo:
        info = self.client.video_info(self.video_id)
        with self.engine.connect() as connection:
            known = store.video_of_threads(connection, [t.thread_id for t in info.threads])
        if known and known != info.video_id and info.video_id.isdigit():
            # getflv knows no video ids: a thread stored before under its video's name keeps it.
            info = replace(info, video_id=known)
        if info.video_id != self.video_id:
            # Asked for by a thread number, the site names the video: store it under that name.
            log.info("%s is %s", self.video_id, info.video_id)
            self.video_id = self.result.video_id = info.video_id
            store.rename_run_video(self.engine, self.run_id, info.video_id)
        # Written with the first page: a run that stores nothing changes nothing.
        self._unsaved_video = info
        self.progress.video(info)
        return info

    def _set(self, ref: ThreadRef, **values) -> None:
        store.save_retrying(
            self.engine,
            lambda connection: store.set_history(connection, ref.thread_id, ref.fork, **values),
        )

    def _save(
        self,
        outcome: ThreadOutcome,
        page: Page,
        *,
        when: int | None,
        cursor: dict | None = None,
        skipped: tuple[int, int] | None = None,
    ) -> None:
        """One page, one transaction: comments, thread status, cursor and run counters."""
        ref = outcome.ref
        status = page.thread
        if (status.thread_id, status.fork) != (ref.thread_id, ref.fork):
            status = replace(status, thread_id=ref.thread_id, fork=ref.fork)
        requests = self.unsaved_requests()
        info = self._unsaved_video

        def save(connection) -> int:
            # Comments before threads, as every page does (see `store.save_retrying`).
            if info is not None:
                store.upsert_video(connection, info, store.now_utc())
            added = store.save_comments(
                connection, self.video_id, self.run_id, page.comments, observe=True
            )
            if status.voltage_zone is not None:
                store.save_voltage_zone(connection, self.video_id, status.voltage_zone)
            if info is not None:
                store.upsert_threads(connection, info.video_id, info.threads)
            store.save_thread_status(connection, status, store.now_utc())
            if cursor:
                store.set_history(connection, ref.thread_id, ref.fork, **cursor)
            if skipped:
                store.save_skipped(connection, self.run_id, ref.thread_id, ref.fork, skipped)
            store.add_to_run(
                connection,
                self.run_id,
                pages=1,
                requests=requests,
                comments_added=added,
                when_cursor=when,
            )
            return added

        added = store.save_retrying(self.engine, save)
        _set_bits(self._seen.setdefault((ref.thread_id, ref.fork), bytearray()), page.comments)
        self._requests_saved += requests
        self._unsaved_video = None
        outcome.added += added
        outcome.stored += added
        outcome.pages += 1
        self.result.comments_added += added
        self.result.pages += 1
        if skipped:
            log.warning(
                "thread %s: a whole page came from seconds %d-%d; stepping back one second "
                "(comments the server would not return may be missing there)",
                ref.thread_id,
                *skipped,
            )
        self.progress.page(
            ref,
            when=when,
            added=added,
            stored=outcome.stored,
            server_count=store.reported_count(status.comment_count, status.last_res),
        )


def _covered_since(last: Step, floor: int) -> int:
    """The oldest second (Unix s) a complete pass that ended with ``last`` vouches for: from
    there to its start, every second was answered by a page that held comments. A walk that
    reached comment no 1 or the video's posting time covers it all; one that ended on an empty
    answer only the seconds after that answer's cursor: an empty answer proves nothing by
    itself (a glitch looks the same), so what it left out is not concluded from it."""
    if last.done == EMPTY_PAGE:
        return last.when + 1
    return floor


def _holds_whole_thread(page: Page) -> bool:
    """Whether an answer without `when` evidently holds its whole thread: fewer comments than
    an answer can hold, from comment no 1 up to the newest number the server counts. An empty
    or cut answer is no such evidence (and says nothing about what it left out)."""
    nos = [comment.no for comment in page.comments]
    if not nos or len(nos) >= WHOLE_ANSWER or min(nos) != 1:
        return False
    count = store.reported_count(page.thread.comment_count, page.thread.last_res)
    return count is None or max(nos) >= count


def _set_bits(bits: bytearray, comments) -> None:
    for comment in comments:
        no = comment.no
        if no < 0:
            continue
        byte = no >> 3
        if byte >= len(bits):
            bits.extend(bytes(byte - len(bits) + 1 + len(bits) // 2))
        bits[byte] |= 1 << (no & 7)


def _has_bit(bits: bytearray, no: int) -> bool:
    byte = no >> 3
    return 0 <= byte < len(bits) and bool(bits[byte] >> (no & 7) & 1)


def _clusters(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge missing ranges that one walk can cover together, newest first."""
    clusters: list[list[int]] = []
    for low, high in sorted(ranges, reverse=True):
        if clusters and clusters[-1][0] - high <= CLUSTER_REACH:
            clusters[-1][0] = min(clusters[-1][0], low)
        else:
            clusters.append([low, high])
    return [(low, high) for low, high in clusters]
