"""The crawl on PostgreSQL, distributed: one procrastinate job per video (`enqueue`), executed
by any number of `nico worker` processes on any machines that reach the database (`run_worker`).

procrastinate (a PostgreSQL task queue; the optional extra ``crawl``) brings what a crawl needs
from a queue: jobs claimed by one worker at a time, retries with backoff, a lock per video (no
two workers on one video, whatever collection asked for it) and a queueing lock per collection,
video and mode (enqueueing the same crawl again adds nothing; an --all-history crawl is queued
even where a crawl without it is). The job is `crawl.crawl_video`, as
in-process workers run it; the request budget is `crawl.SharedBudget`, in the same database.
Nothing here prints.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, inspect

from nicocomments.collect import CommentClient
from nicocomments.crawl import Plan, crawl_video, finish_if_done
from nicocomments.errors import AuthError, BadInput, missing_extra

log = logging.getLogger(__name__)

TASK_NAME = "nicocomments.crawl_video"
QUEUE = "nico-crawl"
MAX_ATTEMPTS = 8
RETRY_WAIT_S = 5  # then 5 × 2^n: a server that is down gets time
PROCRASTINATE_TABLE = "procrastinate_jobs"


@dataclass
class WorkerContext:
    """What a worker process's jobs share: the database and a way to make a comment client
    (one per worker thread, all on the shared budget)."""

    engine: Engine
    make_client: Callable[[], CommentClient]
    session_failed: AuthError | None = None
    done: int = 0  # videos this worker completed
    failed: int = 0  # … found unreadable


_context: WorkerContext | None = None
_clients = threading.local()


def _procrastinate():
    try:
        import procrastinate
    except ImportError:
        raise missing_extra(
            "nico crawl --enqueue and nico worker", "procrastinate", "crawl"
        ) from None
    return procrastinate


def conninfo(engine: Engine) -> str:
    """The libpq address of ``engine``'s PostgreSQL database (procrastinate's own driver)."""
    if engine.dialect.name != "postgresql":
        raise BadInput(
            "the job queue needs PostgreSQL (--db postgresql://…); on SQLite, crawl in one "
            "process with --workers N"
        )
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(engine: Engine):
    procrastinate = _procrastinate()
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(engine)))

    @app.task(
        name=TASK_NAME,
        queue=QUEUE,
        retry=procrastinate.RetryStrategy(
            max_attempts=MAX_ATTEMPTS, wait=RETRY_WAIT_S, exponential_wait=2
        ),
        pass_context=False,
    )
    def crawl_video_job(collection_id: int, video_id: str, all_history: bool) -> str:
        return _run_job(collection_id, video_id, all_history)

    return app, crawl_video_job


def ensure_queue(engine: Engine, app) -> None:
    """procrastinate's tables, created in the database on first use."""
    with engine.connect() as connection:
        present = inspect(connection).has_table(PROCRASTINATE_TABLE)
    if not present:
        with app.open():
            app.schema_manager.apply_schema()


def enqueue(engine: Engine, plan: Plan, all_history: bool) -> tuple[int, int]:
    """One job per video of ``plan``; returns (queued, already queued)."""
    procrastinate = _procrastinate()
    app, task = make_app(engine)
    ensure_queue(engine, app)
    queued = already = 0
    with app.open():
        for video_id, _ in plan.videos:
            try:
                task.configure(
                    lock=f"video:{video_id}",
                    queueing_lock=queueing_lock(plan.collection_id, video_id, all_history),
                ).defer(
                    collection_id=plan.collection_id, video_id=video_id, all_history=all_history
                )
                queued += 1
            except procrastinate.exceptions.AlreadyEnqueued:
                already += 1
    return queued, already


def queueing_lock(collection_id: int, video_id: str, all_history: bool) -> str:
    """One queued job per collection, video and mode: a job for the current window must not
    keep out one for the whole history (it would complete the video without it)."""
    return f"crawl:{collection_id}:{video_id}:{'all-history' if all_history else 'window'}"


def run_worker(context: WorkerContext, *, burst: bool, name: str | None = None) -> None:
    """Execute crawl jobs until stopped (SIGINT, SIGTERM) or, with ``burst``, until the queue
    is empty. A session that stops working stops the worker: `context.session_failed`."""
    global _context
    app, _ = make_app(context.engine)
    ensure_queue(context.engine, app)
    _context = context
    try:
        app.run_worker(queues=[QUEUE], wait=not burst, concurrency=1, name=name,
                       install_signal_handlers=True)  # fmt: skip
    finally:
        _context = None


def _run_job(collection_id: int, video_id: str, all_history: bool) -> str:
    context = _context
    if context is None:
        raise RuntimeError("a crawl job ran outside `nico worker`")
    client = getattr(_clients, "client", None)
    if client is None:
        client = _clients.client = context.make_client()
    try:
        outcome = crawl_video(
            context.engine, client, collection_id, video_id, all_history=all_history
        )
    except AuthError as exc:
        # Every later job would fail the same way: stop this worker (the job is retried later,
        # by a worker with a working session).
        context.session_failed = exc
        os.kill(os.getpid(), signal.SIGTERM)
        raise
    if outcome.state == "partial":
        raise _Unfinished(f"{video_id}: {outcome.reason}")  # procrastinate retries it
    if outcome.state == "complete":
        context.done += 1
    elif outcome.state == "failed":
        context.failed += 1
    finish_if_done(context.engine, collection_id, all_history=all_history)
    return outcome.state


class _Unfinished(Exception):
    """A video the server or network would not let finish: a retry resumes it."""
