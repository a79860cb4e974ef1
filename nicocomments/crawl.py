"""The crawl job: every comment of every video of a collection, resumable and shared.

A crawl lists the collection (`nicocomments.listings`) into ``collection_videos``, then fetches
each video still ``pending`` or ``partial`` with `collect.collect_video`, recording each one's
state as it goes: killed at any moment, the next run lists nothing again (the listing is stored)
and goes on with the videos not complete; a video that cannot be read is ``failed`` with its
reason and the crawl goes on; a session that stops working stops it (`AuthError`).

`crawl_video` is the unit of work: the in-process workers (threads) run it, and so do the
PostgreSQL queue's workers (`nicocomments.queue`). Every worker of one account shares one
request budget per host: the session's `HostPacer` (threads of one process) or `SharedBudget`
(its slots in the database, for workers in several processes and machines). Nothing here prints.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, text

from nicocomments import store
from nicocomments.collect import CommentClient, FetchOptions, collect_video
from nicocomments.errors import AuthError, BadInput, NicoError, Refused
from nicocomments.http import HostPacer
from nicocomments.ids import parse_video_id
from nicocomments.limits import shown
from nicocomments.listings import CollectionRef, ListedVideo, SnapshotSearch, iter_nvapi_listing
from nicocomments.listings.channel import iter_channel_listing
from nicocomments.progress import Progress

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # comments in a past-log page
SNAPSHOT_ID_BATCH = 50  # video ids per Snapshot Search request (--since-last over a listing)
# Snapshot Search's index is rebuilt once a day: when it won't say when, it is at most this old.
INDEX_AGE_S = 86_400
# Listed again by every crawl: the file or the query may have changed since the last one.
RELISTED_KINDS = ("file", "sql")


@dataclass(frozen=True)
class CrawlOptions:
    all_history: bool = False
    since_last: bool = False
    dry_run: bool = False
    workers: int = 1


@dataclass
class Plan:
    """What a crawl will fetch: the videos still to fetch with their listed comment counts."""

    collection_id: int
    name: str
    listed: int
    videos: list[tuple[str, int | None]]
    listing_requests: int = 0

    def pages(self, all_history: bool = True) -> int:
        """Comment requests, estimated from the listed counts: ⌈n/1000⌉ a video (at least one),
        one more for its watch data."""
        return sum(
            1 + (max(1, math.ceil((n or 0) / PAGE_SIZE)) if all_history else 1)
            for _, n in self.videos
        )


@dataclass
class VideoOutcome:
    video_id: str
    state: str  # complete | failed | partial | skipped (already complete)
    added: int = 0
    requests: int = 0
    reason: str | None = None


@dataclass
class CrawlResult:
    plan: Plan
    outcomes: list[VideoOutcome] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)


class CrawlProgress:
    """Callbacks for the user interface; every method may be overridden, none must be."""

    def listing(self, name: str, videos: int) -> None: ...

    def planned(self, plan: Plan) -> None: ...

    def video_done(self, outcome: VideoOutcome) -> None: ...

    def notice(self, message: str) -> None: ...


# --- the shared budget ------------------------------------------------------------------------


class SharedBudget(HostPacer):
    """A `HostPacer` whose slots live in the database (``rate_budgets``): every process and
    machine crawling with one account waits its turn on the same clock, and a server's "wait"
    (`hold`) holds them all."""

    def __init__(
        self,
        engine: Engine,
        account: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(clock, sleep)
        self.engine = engine
        self.account = account

    def wait(self, host: str, interval: float) -> float:
        now = self._clock()
        slot = store.save_retrying(
            self.engine, lambda c: store.take_slot(c, self.account, host, now, interval)
        )
        delay = slot - self._clock()
        if delay > 0:
            self._sleep(delay)
        return max(delay, 0.0)

    def hold(self, host: str, seconds: float) -> None:
        until = self._clock() + seconds
        store.save_retrying(self.engine, lambda c: store.hold_budget(c, self.account, host, until))


def account_key(user_session: str | None) -> str:
    """The budget's account: a hash of the session (never the session itself), or guest."""
    if not user_session:
        return "guest"
    return hashlib.sha256(user_session.encode()).hexdigest()[:32]


# --- listing ----------------------------------------------------------------------------------


@dataclass
class Lister:
    """Where a collection's videos come from: nvapi, Snapshot Search, a channel's pages, a
    file, the database."""

    session: object
    endpoints: object
    snapshot: SnapshotSearch
    nvapi_requests: int = 0
    title: str | None = None  # the collection's own name, once a listing page gave it

    @property
    def requests_made(self) -> int:
        return self.nvapi_requests + self.snapshot.requests_made

    def iter_videos(self, engine: Engine, ref: CollectionRef, *, since: int | None = None):
        if ref.searched:
            yield from self.snapshot.iter_videos(ref, since=since)
        elif ref.kind in ("user", "mylist", "series"):
            yield from iter_nvapi_listing(self.session, self.endpoints, ref, self._count)
        elif ref.kind == "channel":
            yield from iter_channel_listing(self.session, self.endpoints, ref, self._count)
        elif ref.kind == "file":
            yield from (ListedVideo(v) for v in ids_from_file(Path(ref.key)))
        elif ref.kind == "sql":
            yield from (ListedVideo(v) for v in ids_from_sql(engine, ref.key))
        else:
            raise BadInput(f"{ref.name}: listing {ref.kind} collections is not supported yet")

    def _count(self, page) -> None:
        self.nvapi_requests += 1
        self.title = page.title or self.title

    def changed_since(self, ref: CollectionRef, ids: list[str], since: int) -> list[ListedVideo]:
        """The videos with comments from ``since`` on (Snapshot Search's lastCommentTime): by
        the collection's own query for a tag or search, else by ids, a batch at a time."""
        if ref.searched:
            return list(self.snapshot.iter_videos(ref, since=since))
        out = []
        for start in range(0, len(ids), SNAPSHOT_ID_BATCH):
            batch = ids[start : start + SNAPSHOT_ID_BATCH]
            out += self.snapshot.iter_videos(None, since=since, content_ids=batch)
        return out


def ids_from_file(path: Path) -> list[str]:
    """Video ids (or watch URLs), one a line; ``#`` starts a comment."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    return _unique(parse_video_id(line) for raw in lines if (line := raw.split("#", 1)[0].strip()))


def ids_from_sql(engine: Engine, sql: str) -> list[str]:
    """The video ids in the first column of ``sql``, run on the database itself (read only:
    whatever it changed is rolled back)."""
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            rows = connection.execute(text(sql)).all()
            transaction.rollback()
    except Exception as exc:
        failure = getattr(exc, "orig", None) or exc
        first = str(failure).splitlines()[0] if str(failure) else type(failure).__name__
        raise BadInput(f"--sql {shown(sql, 80)} failed: {first}") from None
    ids = []
    for row in rows:
        if not row or row[0] is None:
            continue
        ids.append(parse_video_id(str(row[0])))
    return _unique(ids)


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _listed(video: ListedVideo) -> store.Listed:
    return store.Listed(video.video_id, video.title, video.comment_count, video.last_comment_at)


def plan_crawl(
    engine: Engine,
    lister: Lister,
    ref: CollectionRef,
    options: CrawlOptions,
    progress: CrawlProgress,
    *,
    clock: Callable[[], float] = time.time,
) -> Plan:
    """List the collection as needed and store the listing; what is left to fetch.

    A first crawl lists it all; a file or a query is listed by every crawl. A crawl of another
    collection that was stopped lists nothing again. ``since_last`` lists again for new videos
    and asks Snapshot Search which listed videos have comments from the last crawl on; those
    go back to pending. With ``all_history``, a video a crawl without it completed (its
    current window) is fetched again, for the history its threads do not have yet."""
    collection_id = store.save_retrying(
        engine, lambda c: store.ensure_collection(c, ref.name, ref.kind, ref.key)
    )
    with engine.connect() as connection:
        row = store.collection_row(connection, collection_id)
    before = lister.requests_made
    with engine.connect() as connection:
        unfinished = bool(store.videos_to_fetch(connection, collection_id))
    if options.since_last and unfinished and row.since is not None:
        # A refresh that was stopped: finish it before asking what changed again.
        log.info("%s: finishing the videos of the last crawl first", ref.name)
    elif options.since_last:
        if row.since is None:
            raise BadInput(
                f"{ref.name} has not been crawled to the end yet: run `nico crawl {ref.name}` "
                "first (--since-last refreshes a finished crawl)"
            )
        _refresh(engine, lister, ref, collection_id, int(row.since.timestamp()), progress, clock)
    elif row.listed_at is None or ref.kind in RELISTED_KINDS:
        # A crawl that was stopped goes on from when it started: that is where the next
        # --since-last asks from.
        _list(engine, lister, ref, collection_id, progress, clock, restart=not unfinished)
    with engine.connect() as connection:
        videos = store.videos_to_fetch(connection, collection_id, all_history=options.all_history)
        listed = len(store.listed_ids(connection, collection_id))
    plan = Plan(collection_id, ref.name, listed, videos, lister.requests_made - before)
    progress.planned(plan)
    return plan


def _list(engine, lister, ref, collection_id, progress, clock, *, restart: bool) -> None:
    started = _since_point(lister, clock) if restart else None
    videos = []
    for video in lister.iter_videos(engine, ref):
        videos.append(_listed(video))
        if len(videos) % 100 == 0:
            progress.listing(ref.name, len(videos))
    progress.listing(ref.name, len(videos))
    if not videos:
        log.info("%s lists no videos", ref.name)

    def save(connection) -> None:
        listed = _unique_listed(videos)
        store.save_listing(connection, collection_id, listed)
        if ref.kind in RELISTED_KINDS:  # the collection is what the file or query says now
            store.drop_unlisted(connection, collection_id, [v.video_id for v in listed])
        store.set_collection(
            connection,
            collection_id,
            listed_at=store.now_utc(),
            title=lister.title,
            **({} if started is None else {"crawl_started_at": started}),
        )

    store.save_retrying(engine, save)


def _refresh(engine, lister, ref, collection_id, since, progress, clock) -> None:
    started = _since_point(lister, clock)
    with engine.connect() as connection:
        known = store.listed_ids(connection, collection_id)
    if ref.searched:
        fresh: list[store.Listed] = []
        changed = [_listed(v) for v in lister.changed_since(ref, known, since)]
    else:
        fresh = [_listed(v) for v in lister.iter_videos(engine, ref)]
        changed = [_listed(v) for v in lister.changed_since(ref, known, since)]
    progress.listing(ref.name, len(fresh) or len(changed))
    changed_ids = {v.video_id for v in changed}

    def save(connection) -> None:
        store.save_listing(
            connection, collection_id, _unique_listed(fresh + changed), first_position=len(known),
            changed=changed_ids,
        )  # fmt: skip
        store.mark_changed(connection, collection_id, changed_ids)
        store.set_collection(
            connection, collection_id, listed_at=store.now_utc(), crawl_started_at=started
        )

    store.save_retrying(engine, save)


def _unique_listed(videos: list[store.Listed]) -> list[store.Listed]:
    seen: dict[str, store.Listed] = {}
    for video in videos:
        seen.setdefault(video.video_id, video)
    return list(seen.values())


def _since_point(lister: Lister, clock) -> int:
    """Where the next --since-last asks from: now, or the search index's build time if older
    (comments after the index was built are not in it yet, whatever their time); a day before
    now when the index won't say (it is rebuilt daily)."""
    now = int(clock())
    index_time = lister.snapshot.index_time()
    if index_time is None:
        log.warning(
            "Snapshot Search did not say when its index was built: the next --since-last "
            "asks from a day before this crawl started"
        )
        return now - INDEX_AGE_S
    return min(now, index_time)


# --- fetching ---------------------------------------------------------------------------------


def crawl_video(
    engine: Engine,
    client: CommentClient,
    collection_id: int,
    video_id: str,
    *,
    all_history: bool = True,
    progress: Progress | None = None,
) -> VideoOutcome:
    """Fetch one video of a collection and record how it went. A video already complete is
    skipped (with ``all_history``: once its threads' histories are complete, whatever crawl
    completed it); one that cannot be read is ``failed`` with its reason; a server or network
    failure, or an interrupt, leaves it ``partial`` (the next crawl resumes it). `AuthError`
    is raised: no later video would do better."""
    with engine.connect() as connection:
        state = store.video_crawl_state(connection, collection_id, video_id)
        done = state == "failed" or (
            state == "complete"
            and (not all_history or store.history_complete(connection, video_id))
        )
    if done:
        return VideoOutcome(video_id, "skipped")
    store.save_retrying(engine, lambda c: store.begin_video(c, collection_id, video_id))
    before = client.requests_made
    options = FetchOptions(all_history=all_history)
    try:
        result = collect_video(engine, client, video_id, options, progress)
    except KeyboardInterrupt:
        _end(engine, collection_id, video_id, "partial", "interrupted", client, before)
        raise
    except Refused as exc:
        return _end(engine, collection_id, video_id, "failed", str(exc), client, before)
    except AuthError as exc:
        _end(engine, collection_id, video_id, "partial", str(exc), client, before)
        raise
    except NicoError as exc:
        return _end(engine, collection_id, video_id, "partial", str(exc), client, before)
    stored = sum(t.stored for t in result.threads)
    store.save_retrying(
        engine,
        lambda c: store.finish_video(c, collection_id, video_id, "complete", stored=stored),
    )
    return VideoOutcome(video_id, "complete", result.comments_added, client.requests_made - before)


def _end(engine, collection_id, video_id, state, reason, client, before) -> VideoOutcome:
    store.save_retrying(
        engine, lambda c: store.finish_video(c, collection_id, video_id, state, reason=reason)
    )
    return VideoOutcome(video_id, state, 0, client.requests_made - before, reason)


def run_crawl(
    engine: Engine,
    plan: Plan,
    make_client: Callable[[], CommentClient],
    options: CrawlOptions,
    progress: CrawlProgress,
) -> CrawlResult:
    """Fetch the videos of ``plan`` with ``options.workers`` threads (each its own client, all
    on one budget). Stops at the first `AuthError`, or on Ctrl-C (`KeyboardInterrupt`), once
    every worker has stored the page it was on; then raises it."""
    result = CrawlResult(plan)
    pending = list(plan.videos)
    lock = threading.Lock()
    stop = threading.Event()
    failures: list[BaseException] = []

    def worker() -> None:
        client = make_client()
        between_pages = _StopBetweenPages(stop)
        while not stop.is_set():
            with lock:
                if not pending:
                    return
                video_id, _ = pending.pop(0)
            try:
                outcome = crawl_video(
                    engine, client, plan.collection_id, video_id,
                    all_history=options.all_history, progress=between_pages,
                )  # fmt: skip
            except BaseException as exc:
                with lock:  # first, so that what stops the others is the one raised
                    failures.append(exc)
                stop.set()
                return
            with lock:
                result.outcomes.append(outcome)
            progress.video_done(outcome)

    workers = max(1, min(options.workers, len(pending) or 1))
    if workers == 1:
        worker()
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="nico-crawl") as pool:
            futures = [pool.submit(worker) for _ in range(workers)]
            try:
                for future in futures:
                    future.result()
            except BaseException:  # Ctrl-C reaches this thread only: tell the workers
                stop.set()
                raise
    if failures:
        raise failures[0]
    finish_if_done(engine, plan.collection_id, all_history=options.all_history)
    return result


class _StopBetweenPages(Progress):
    """Ends a worker's fetch after the page it stored once the crawl is stopping (the
    interrupt itself only ever reaches the main thread)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def page(self, *args, **kwargs) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt


def finish_if_done(engine: Engine, collection_id: int, *, all_history: bool = False) -> bool:
    """Once no video of the collection is left to fetch: the crawl is over, and the next
    --since-last asks from when it started."""
    with engine.connect() as connection:
        if store.videos_to_fetch(connection, collection_id, all_history=all_history):
            return False
    store.save_retrying(engine, lambda c: _finished(c, collection_id))
    return True


def _finished(connection, collection_id: int) -> None:
    row = store.collection_row(connection, collection_id)
    store.set_collection(
        connection, collection_id, crawled_at=store.now_utc(), since=row.crawl_started_at
    )
