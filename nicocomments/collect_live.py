"""The live job: collect one Niconico Live program's comments into the database (live.md).

Watch page → (for an ended program: reserve and start the timeshift) → watch WebSocket →
message server. Without ``all_history`` the segments the message server serves now are stored;
with it the program's past is walked through backward chains (`nicocomments.live.iter_past`),
every answer committed in its own transaction with the walk's cursor and the run's counters:

* a walk interrupted at any point resumes from the oldest comment stored (the stored comments
  are one unbroken stretch from the walk's first seed down, see `live.past`), after catching up
  with what was posted since on a program still on air;
* every message is stored once: comments by (program, no) and message id, other messages by
  message id (`store.live`).

`record_program` follows a program on air instead: it keeps the watch WebSocket's seat, reads
each segment as the view stream announces it (several at once), commits each, and when the
program ends (``END_PROGRAM``), the stream stops or the user interrupts, walks back through the
past to fill whatever it missed. Nothing here prints: progress goes to a `Progress` object.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine

from nicocomments import store
from nicocomments.errors import Refused
from nicocomments.live import (
    REACHED_BEGIN,
    RESEED_OVERLAP,
    LiveComment,
    LiveEvent,
    LiveItem,
    MessageSegment,
    PackedBatch,
    PastBatch,
    ProgramInfo,
    ReadyForNext,
    iter_past,
)
from nicocomments.live.client import LiveClient
from nicocomments.live.watchsocket import MessageServer
from nicocomments.progress import Progress
from nicocomments.records import LIVE_FORK, ThreadRef, VideoInfo
from nicocomments.store import ProgramRow

log = logging.getLogger(__name__)

PROTOCOL = "live"
RECORD_WORKERS = 4  # segments read at once while recording
# View answers in a row whose next.at is no later than the moment asked: the stream is stuck,
# and following it would ask the same moment forever (one can happen legitimately, when a long
# poll gives up a moment early).
STUCK_ANSWERS = 3

# Why following a program on air ended.
PROGRAM_ENDED = "the program ended"
STOPPED_EARLY = "stopped early"
STREAM_STUCK = "the message server's stream stopped advancing"
# A walk through the past that ended without reaching the program's beginning.
SHORT_OF_BEGIN = "stopped short of the program's beginning"


@dataclass(frozen=True)
class LiveOptions:
    all_history: bool = False
    refresh: bool = False  # walk the whole past again even if a walk completed


@dataclass
class LiveResult:
    program_id: str
    run_id: int
    status: str = ""  # the program's status as the watch page said
    comments_added: int = 0
    events_added: int = 0
    pages: int = 0
    stored: int = 0
    end: str | None = None  # why the walk through the past ended
    recording_end: str | None = None  # `record_program`: why following the program ended


def collect_program(
    engine: Engine,
    client: LiveClient,
    program_id: str,
    options: LiveOptions = LiveOptions(),
    progress: Progress | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> LiveResult:
    """Collect ``program_id`` (lv…) into ``engine``; record the run in fetch_runs."""
    mode = "all-history" if options.all_history else "window"
    settings = {"refresh": options.refresh} if options.refresh else None
    run_id = store.start_run(
        engine, video_id=program_id, protocol=PROTOCOL, mode=mode, options=settings
    )
    job = _Job(engine, client, program_id, run_id, progress or Progress(), clock)
    return store.run_recorded(engine, run_id, lambda: job.collect(options), job.unsaved_requests)


def record_program(
    engine: Engine,
    client: LiveClient,
    program_id: str,
    progress: Progress | None = None,
    *,
    stop: threading.Event | None = None,
    keep_seat: Callable[[ProgramInfo, threading.Event], Callable[[], None]] | None = None,
    clock: Callable[[], float] = time.time,
) -> LiveResult:
    """Follow ``program_id`` while on air, then fill the past; ``stop`` set (or Ctrl-C) ends
    the following early (the backfill still runs, unless Ctrl-C comes again). ``keep_seat``
    starts keeping the seat (the caller's WebSocket) and returns how to stop it; it sets the
    event it is given when the WebSocket says the program ended."""
    run_id = store.start_run(engine, video_id=program_id, protocol=PROTOCOL, mode="record")
    job = _Job(engine, client, program_id, run_id, progress or Progress(), clock)
    return store.run_recorded(
        engine,
        run_id,
        lambda: job.record(stop or threading.Event(), keep_seat),
        job.unsaved_requests,
    )


class _Job:
    def __init__(
        self,
        engine: Engine,
        client: LiveClient,
        program_id: str,
        run_id: int,
        progress: Progress,
        clock: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.client = client
        self.program_id = program_id
        self.run_id = run_id
        self.progress = progress
        self.clock = clock
        self.ref = ThreadRef(program_id, LIVE_FORK, "live")
        self.result = LiveResult(program_id, run_id)
        self._requests_saved = client.requests_made
        self._lock = threading.Lock()  # saves from several segment readers
        self.info: ProgramInfo | None = None
        self.server: MessageServer | None = None

    def unsaved_requests(self) -> int:
        return self.client.requests_made - self._requests_saved

    # -- opening ---------------------------------------------------------------------------------

    def open(self, info: ProgramInfo | None = None) -> tuple[ProgramInfo, MessageServer]:
        info = info or self.client.program(self.program_id)
        if info.web_socket_url is None and info.ended:
            self.client.open_timeshift(self.program_id)
            info = self.client.program(self.program_id)
            if info.web_socket_url is None:
                raise Refused(
                    f"{self.program_id}: the timeshift was reserved but cannot be watched"
                )
        server = self.client.message_server(info)
        if server.vpos_base_time is not None and server.vpos_base_time != info.vpos_base_time:
            log.info("the WebSocket's vposBaseTime differs from the page's; using the WebSocket's")
        self.info, self.server = info, server
        self.result.status = info.status
        row = ProgramRow(
            program_id=info.program_id,
            title=info.title,
            begin_at=info.begin_time,
            end_at=info.end_time,
            vpos_base_at=self.vpos_base_time,
            status=info.status,
        )
        store.save_retrying(self.engine, lambda c: store.upsert_program(c, row, store.now_utc()))
        self.progress.video(
            VideoInfo(info.program_id, (self.ref,), title=info.title, posted_at=info.begin_time)
        )
        with self.engine.connect() as connection:
            self.result.stored = store.thread_counts(connection, self.program_id).get(
                (self.program_id, LIVE_FORK), 0
            )
        return info, server

    @property
    def vpos_base_time(self) -> int:
        assert self.info is not None
        if self.server is not None and self.server.vpos_base_time is not None:
            return self.server.vpos_base_time
        return self.info.vpos_base_time

    # -- fetch -------------------------------------------------------------------------------------

    def collect(self, options: LiveOptions) -> LiveResult:
        _info, server = self.open()
        if options.all_history:
            self.walk(refresh=options.refresh)
        else:
            self.progress.thread_started(self.ref, stored=self.result.stored, phase="window")
            entries = self.client.view(server.view_uri, None)
            for entry in entries:
                if isinstance(entry, MessageSegment):
                    self._save(self.client.segment(entry.uri, self.program_id), when=entry.from_at)
            self.progress.thread_finished(self.ref, stored=self.result.stored, end=None)
        return self.result

    def walk(self, *, refresh: bool = False) -> None:
        """The past: catch up with what came since an earlier walk (or finish an interrupted
        catch-up), then walk (or resume the walk) down to the beginning."""
        with self.engine.connect() as connection:
            state = store.thread_state(connection, self.program_id, LIVE_FORK)
            seen = store.live_message_ids(connection, self.program_id)
            oldest = store.oldest_live_moment(connection, self.program_id)
        if refresh:
            store.save_retrying(
                self.engine, lambda c: store.forget_history(c, self.program_id, LIVE_FORK)
            )
            state = state.forgotten()
        if state.catchup_when is not None:
            # An earlier catch-up was interrupted: what it stored is the newest stretch, so it
            # goes on from where it stopped, down to where it was to stop.
            self._catch_up(
                seen, start=state.catchup_when + RESEED_OVERLAP, stop_no=state.catchup_stop_no
            )
        elif (state.history_complete or state.history_when is not None) and seen:
            # Messages newer than the newest stored: walk back from now until we meet it.
            self._catch_up(seen, start=None, stop_no=state.max_no)
        if state.history_complete:
            self.result.end = "already complete"
            self.progress.thread_finished(self.ref, stored=self.result.stored, end=self.result.end)
            return
        start = None
        if state.history_when is not None and oldest is not None:
            start = oldest + RESEED_OVERLAP  # resume: the stored stretch ends at the oldest
        self.progress.thread_started(self.ref, stored=self.result.stored, phase="history")
        for batch in self._past(seen, start, self.server_now()):
            cursor: dict = {"history_when": batch.oldest_at, "history_end": batch.done}
            if batch.done == REACHED_BEGIN:  # the only proof that the history is complete
                cursor = {
                    "history_when": None,
                    "history_complete": True,
                    "history_end": batch.done,
                    "history_completed_at": store.now_utc(),
                }
                self.result.end = batch.done
            elif batch.done is not None:  # not complete: the next run walks on from here
                self.result.end = f"{SHORT_OF_BEGIN} ({batch.done})"
            skipped = self._within_program(batch.skipped)
            self._save(batch.items, when=batch.oldest_at, cursor=cursor, skipped=skipped)
        self.progress.thread_finished(self.ref, stored=self.result.stored, end=self.result.end)

    def _catch_up(self, seen: set[str], *, start: int | None, stop_no: int | None) -> None:
        """Walk back from ``start`` (None: now) until an answer holds comment ``stop_no`` or an
        older one: the newest stored before the catch-up began. Every answer is committed with
        the catch-up's cursor (its oldest moment) and its stop, so an interrupted catch-up is
        resumed, never left as a gap below what it stored."""
        self.progress.thread_started(self.ref, stored=self.result.stored, phase="newer")
        stop = stop_no or 0  # no comment stored (only other messages): to the walk's end
        lowest: list[int | None] = [None]  # the lowest comment number of the last answer
        now = self.server_now()
        if start is None:
            self._set(catchup_when=now, catchup_stop_no=stop)
        for batch in self._past(seen, start, now, lowest):
            met = batch.uri is not None and lowest[0] is not None and lowest[0] <= stop
            finished = met or batch.done is not None
            cursor: dict = {}
            short = finished and not met and stop and batch.done != REACHED_BEGIN
            if finished and not short:
                cursor = {"catchup_when": None, "catchup_stop_no": None}
            elif short:
                # Stopped above what was stored before: a gap no answer showed empty. The
                # cursor stays, so the history is not complete and the next run walks on.
                log.warning("the catch-up with newer comments stopped short: %s", batch.done)
                if batch.oldest_at is not None:
                    cursor = {"catchup_when": batch.oldest_at}
            elif batch.oldest_at is not None:
                cursor = {"catchup_when": batch.oldest_at}
            self._save(batch.items, when=batch.oldest_at, cursor=cursor)
            if finished:
                return

    def server_now(self) -> int:
        assert self.server is not None
        now = self.client.server_time(self.server.view_uri)
        return int(self.clock()) if now is None else now

    def _past(
        self,
        seen: set[str],
        start: int | None,
        now: int,
        lowest: list[int | None] | None = None,
    ) -> Iterator[PastBatch]:
        """The walk through the past from ``start`` (None: ``now``, the server's); ``lowest``
        gets the lowest comment number of every answer read, stored before or not."""
        assert self.info is not None and self.server is not None
        view_uri = self.server.view_uri

        def note(items: list[LiveItem]) -> list[LiveItem]:
            if lowest is not None:
                lowest[0] = min((i.no for i in items if isinstance(i, LiveComment)), default=None)
            return items

        def backward(uri: str) -> PackedBatch:
            batch = self.client.backward(uri, self.program_id)
            note(batch.items)
            return batch

        return iter_past(
            lambda at: self.client.view(view_uri, at),
            backward,
            begin_time=self.info.begin_time,
            vpos_base_time=self.vpos_base_time,
            now=now,
            start=start,
            seen=seen,
            fetch_segment=lambda uri: note(self.client.segment(uri, self.program_id)),
        )

    def _within_program(self, windows: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
        """Unread seconds that could hold messages: none after an ended program's end (the
        walk of an ended program starts from now, its view from the end)."""
        assert self.info is not None
        end = self.info.end_time if self.info.ended and self.info.end_time else None
        if end is None:
            return windows
        return tuple((low, min(high, end)) for low, high in windows if low < end)

    # -- record ------------------------------------------------------------------------------------

    def record(
        self,
        stop: threading.Event,
        keep_seat: Callable[[ProgramInfo, threading.Event], Callable[[], None]] | None,
    ) -> LiveResult:
        info = self.client.program(self.program_id)
        if not info.on_air:
            raise Refused(
                f"{self.program_id} is not on air ({info.status}): "
                f"use nico fetch {self.program_id} --all-history"
            )
        info, server = self.open(info)
        ended = threading.Event()
        release = keep_seat(info, ended) if keep_seat is not None else (lambda: None)
        self.progress.thread_started(self.ref, stored=self.result.stored, phase="live")
        reading: set[str] = set()
        pending: list[Future] = []
        try:
            with ThreadPoolExecutor(RECORD_WORKERS, thread_name_prefix="nico-segment") as pool:
                at: int | None = None
                stuck = 0
                while not stop.is_set():
                    entries = self.client.view(server.view_uri, at)
                    for entry in entries:
                        if isinstance(entry, MessageSegment) and entry.uri not in reading:
                            reading.add(entry.uri)
                            pending.append(pool.submit(self._read_segment, entry))
                    for future in [f for f in pending if f.done()]:
                        pending.remove(future)
                        future.result()  # a failed segment read fails the recording
                    following = [e for e in entries if isinstance(e, ReadyForNext)]
                    if not following or ended.is_set():
                        break  # the stream or the WebSocket says the program is over
                    stuck = stuck + 1 if at is not None and following[-1].at <= at else 0
                    if stuck >= STUCK_ANSWERS:
                        log.warning("the view stream named next.at %d again and again", at)
                        self.result.recording_end = STREAM_STUCK
                        break
                    at = following[-1].at
                for future in pending:
                    future.result()
        finally:
            release()
        if self.result.recording_end is None:
            self.result.recording_end = STOPPED_EARLY if stop.is_set() else PROGRAM_ENDED
        self.progress.thread_finished(
            self.ref, stored=self.result.stored, end=self.result.recording_end
        )
        self.walk()
        return self.result

    def _read_segment(self, segment: MessageSegment) -> None:
        items = self.client.segment(segment.uri, self.program_id)
        self._save(items, when=segment.from_at)

    # -- saving ------------------------------------------------------------------------------------

    def _set(self, **values) -> None:
        store.save_retrying(
            self.engine,
            lambda c: store.set_history(c, self.program_id, LIVE_FORK, **values),
        )

    def _save(
        self,
        items: Iterable[LiveItem],
        *,
        when: int | None,
        cursor: dict | None = None,
        skipped: tuple[tuple[int, int], ...] = (),
    ) -> None:
        """One answer, one transaction: comments, events, cursor, skipped seconds, counters."""
        comments, events = [], []
        for item in items:
            if isinstance(item, LiveComment):
                comments.append(item.to_comment())
            elif isinstance(item, LiveEvent):
                events.append(_event_row(item))
        with self._lock:
            requests = self.unsaved_requests()

            def save(connection) -> tuple[int, int]:
                added = store.save_live_comments(connection, self.program_id, self.run_id, comments)
                events_added = store.save_live_events(
                    connection, self.program_id, self.run_id, events
                )
                if cursor:
                    store.set_history(connection, self.program_id, LIVE_FORK, **cursor)
                for window in skipped:
                    store.save_skipped(connection, self.run_id, self.program_id, LIVE_FORK, window)
                store.add_to_run(
                    connection,
                    self.run_id,
                    pages=1,
                    requests=requests,
                    comments_added=added,
                    when_cursor=when,
                )
                return added, events_added

            added, events_added = store.save_retrying(self.engine, save)
            self._requests_saved += requests
            self.result.comments_added += added
            self.result.events_added += events_added
            self.result.stored += added
            self.result.pages += 1
        self.progress.page(
            self.ref, when=when, added=added, stored=self.result.stored, server_count=None
        )


def _event_row(event: LiveEvent) -> dict:
    return {
        "message_id": event.message_id,
        "kind": event.kind,
        "posted_at": event.posted_at,
        "date_usec": event.date_usec,
        "payload": event.payload,
        "raw": event.raw,
    }


__all__ = [
    "REACHED_BEGIN",
    "LiveOptions",
    "LiveResult",
    "Progress",
    "collect_program",
    "record_program",
]
