"""`nico worker`: execute the crawl jobs `nico crawl --enqueue` queued in PostgreSQL."""

from __future__ import annotations

import logging
import socket
from typing import Annotated

import typer

from nicocomments import queue, store
from nicocomments.cli.common import (
    BackoffCapOption,
    BackoffOption,
    IntervalOption,
    RateLimitWaitOption,
    RetriesOption,
    TimeoutOption,
    crawl_network,
    explain_login,
    guarded,
    network_settings,
    out,
    walk_notes_hidden,
)
from nicocomments.errors import LoginRequired


@guarded
def worker(
    *,
    burst: Annotated[
        bool,
        typer.Option("--burst", help="Exit once the queue is empty (else wait for more jobs)."),
    ] = False,
    name: Annotated[
        str | None,
        typer.Option("--name", help="This worker's name in procrastinate's logs and tables."),
    ] = None,
    interval: IntervalOption = 1.0,
    retries: RetriesOption = 6,
    backoff: BackoffOption = 1.0,
    backoff_cap: BackoffCapOption = 60.0,
    timeout: TimeoutOption = 30.0,
    rate_limit_wait: RateLimitWaitOption = 60.0,
    db: str,
    verbose: int,
) -> None:
    """Fetch the videos `nico crawl … --enqueue` queued in a PostgreSQL database, one job at a
    time, until stopped (Ctrl-C, SIGTERM) or, with --burst, until the queue is empty.

    Start as many as you like, on any machine that reaches the database, each with its own
    session (`nico login`) or sharing one: a job is claimed by one worker, a video is never
    fetched by two at once, a job that fails (server down, network) is retried with backoff,
    and every worker of one account shares one request budget per host, kept in the database
    (--interval seconds between two requests, whichever worker makes them; TOO_MANY_REQUESTS
    pauses them all). A session that stops working stops the worker (exit 3); its job is
    retried later.

    **Examples**

        nico worker --db postgresql://crawler@db.example/nico
        nico worker --db postgresql://crawler@db.example/nico --burst --interval 2
    """
    settings = network_settings(interval, retries, backoff, backoff_cap, timeout)
    if verbose == 0:
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
    with store.database(db) as engine:
        queue.conninfo(engine)  # PostgreSQL, or a clear error before anything else
        crawler = crawl_network(engine, settings, rate_limit_wait)
        context = queue.WorkerContext(engine, crawler.make_client)
        with walk_notes_hidden(verbose):
            queue.run_worker(context, burst=burst, name=name or f"nico-{socket.gethostname()}")
    if context.session_failed is not None:
        exc = context.session_failed
        raise (explain_login(exc, crawler.net) if isinstance(exc, LoginRequired) else exc) from None
    out.print(f"{context.done:,} videos fetched, {context.failed:,} cannot be read.")
