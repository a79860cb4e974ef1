"""`nico crawl`: every comment of every video of a user, mylist, series, tag, search or
channel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from nicocomments import queue, store
from nicocomments.cli.common import (
    BackoffCapOption,
    BackoffOption,
    IntervalOption,
    RateLimitWaitOption,
    RetriesOption,
    TimeoutOption,
    crawl_network,
    err,
    explain_login,
    guarded,
    network_settings,
    out,
    walk_notes_hidden,
)
from nicocomments.cli.progress import REDRAWS_PER_SECOND
from nicocomments.crawl import (
    CrawlOptions,
    CrawlProgress,
    Lister,
    Plan,
    VideoOutcome,
    plan_crawl,
    run_crawl,
)
from nicocomments.errors import BadInput, ExitStatus, LoginRequired
from nicocomments.listings import SNAPSHOT_CAP, CollectionRef, SnapshotSearch, parse_ref
from nicocomments.listings.client import MAINTENANCE_WAIT_S


@guarded
def crawl(
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="REF...",
            help="Collections: user/ID, mylist/ID, series/ID, tag/TAG, search/WORDS, "
            "channel/SLUG, or their nicovideo.jp URLs (…/user/ID, …/mylist/ID, "
            "…/user/U/mylist/ID, …/series/ID, …/tag/TAG, https://ch.nicovideo.jp/SLUG).",
            show_default=False,
        ),
    ] = None,
    *,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file",
            metavar="FILE",
            help="Crawl the videos listed in FILE, one id or watch URL a line.",
        ),
    ] = None,
    sql: Annotated[
        str | None,
        typer.Option(
            "--sql",
            metavar="QUERY",
            help="Crawl the video ids in the first column of QUERY, run on the database "
            "itself (e.g. the videos of one collection whose history is not complete).",
        ),
    ] = None,
    all_history: Annotated[
        bool,
        typer.Option(
            "--all-history",
            help="Every comment of every video, past logs included (else each video's "
            "current window).",
        ),
    ] = False,
    since_last: Annotated[
        bool,
        typer.Option(
            "--since-last",
            help="Refresh a crawled collection: fetch only the videos Snapshot Search says "
            "got comments since the last crawl (and new videos), forward from the newest "
            "stored comment.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="List the collection and estimate requests and time; fetch no comment.",
        ),
    ] = False,
    enqueue: Annotated[
        bool,
        typer.Option(
            "--enqueue",
            help="PostgreSQL only: list the collection, queue one job per video to fetch, and "
            "leave the fetching to `nico worker` processes.",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=32,
            help="Videos fetched at once (threads); they share one request budget.",
        ),
    ] = 1,
    interval: IntervalOption = 1.0,
    retries: RetriesOption = 6,
    backoff: BackoffOption = 1.0,
    backoff_cap: BackoffCapOption = 60.0,
    timeout: TimeoutOption = 30.0,
    rate_limit_wait: RateLimitWaitOption = 60.0,
    search_wait: Annotated[
        float,
        typer.Option(
            "--search-wait",
            min=0.0,
            help="Seconds to wait after Snapshot Search answers 503 (its rules: at least 300).",
            rich_help_panel="Network",
        ),
    ] = MAINTENANCE_WAIT_S,
    search_cap: Annotated[
        int,
        typer.Option(
            "--search-cap",
            min=1,
            help="Snapshot Search's offset cap: larger result sets are split into time windows.",
            rich_help_panel="Network",
        ),
    ] = SNAPSHOT_CAP,
    db: str,
    verbose: int,
) -> None:
    """Crawl whole collections: every video of a user, a mylist, a series, a tag, a search or
    a channel, each fetched like `nico fetch` and recorded per collection (`nico status` shows
    them). A channel is listed from its video list pages, best effort, without comment counts.

    The listing is stored first; then each video is fetched and marked complete, or failed
    with its reason (deleted, private: the crawl goes on). Stop it at any time (Ctrl-C, a
    crash, kill -9) and run the same command again: it goes on with the videos not complete
    and fetches nothing twice. A session that stops working stops the crawl (exit 3).

    --since-last keeps a crawled collection current: Snapshot Search's lastCommentTime says
    which videos got comments since the last crawl, and only those (and new videos) are
    fetched, from the newest stored comment on.

    Every worker (--workers threads here, or `nico worker` processes on PostgreSQL) shares
    one request budget per account and host: --interval seconds between two requests.

    **Examples**

        nico crawl user/7000001 --all-history
        nico crawl https://www.nicovideo.jp/mylist/58000001 --dry-run
        nico crawl tag/VOCALOID --since-last
        nico crawl channel/ch2632720 --dry-run
        nico crawl --sql "SELECT video_id FROM collection_videos WHERE state = 'partial'"
    """
    targets = _refs(refs or [], from_file, sql)
    options = CrawlOptions(
        all_history=all_history, since_last=since_last, dry_run=dry_run, workers=workers
    )
    settings = network_settings(interval, retries, backoff, backoff_cap, timeout)
    searching = {"cap": search_cap, "maintenance_wait": search_wait}
    with walk_notes_hidden(verbose):
        _crawl(targets, db, options, settings, searching, rate_limit_wait, enqueue=enqueue)


def _crawl(
    targets: list[CollectionRef],
    db: str,
    options: CrawlOptions,
    settings: dict,
    searching: dict,
    rate_limit_wait: float,
    *,
    enqueue: bool,
) -> None:
    all_history, dry_run, interval = options.all_history, options.dry_run, settings["interval"]
    unfinished = 0
    with store.database(db) as engine:
        if enqueue:
            queue.conninfo(engine)  # PostgreSQL, or a clear error before listing anything
        crawler = crawl_network(engine, settings, rate_limit_wait)
        net = crawler.net
        snapshot = SnapshotSearch(net.session, net.endpoints, **searching)
        lister = Lister(net.session, net.endpoints, snapshot)
        for ref in targets:
            with _View(err, crawler.sessions, interval) as view:
                snapshot.on_wait = view.notice
                try:
                    plan = plan_crawl(engine, lister, ref, options, view)
                    if dry_run:
                        view.close()
                        _print_plan(plan, all_history, interval)
                        continue
                    if enqueue:
                        view.close()
                        queued, already = queue.enqueue(engine, plan, all_history)
                        out.print(
                            f"{ref.name}: {queued:,} videos queued"
                            + (f" ({already:,} were queued already)" if already else "")
                            + f"; run `nico worker --db {store.describe_target(db)}` "
                            "(as many as you like, on any machine that reaches the database)."
                        )
                        continue
                    result = run_crawl(engine, plan, crawler.make_client, options, view)
                except LoginRequired as exc:
                    error = explain_login(exc, net)
                    raise error.but(hint=f"{error.hint}; the same command then resumes") from None
            unfinished += result.count("partial")
            _print_summary(ref, result, engine)
    if unfinished:
        raise typer.Exit(int(ExitStatus.SERVER))


def _refs(raw: list[str], from_file: Path | None, sql: str | None) -> list[CollectionRef]:
    refs = [parse_ref(text) for text in raw]
    if from_file is not None:
        refs.append(CollectionRef("file", str(from_file.resolve())))
    if sql is not None:
        if not sql.strip():
            raise BadInput("--sql needs a query")
        refs.append(CollectionRef("sql", sql.strip()))
    if not refs:
        raise BadInput(
            "nothing to crawl: name a collection (user/ID, tag/TAG…), --from-file or --sql"
        )
    return list(dict.fromkeys(refs))


class _View(CrawlProgress):
    """The live line: videos done/total, comments stored, requests, failures, ETA."""

    def __init__(self, console, sessions: list, interval: float) -> None:
        self.sessions = sessions
        self.comments = 0
        self.failures = 0
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("videos · {task.fields[comments]:,} comments · "
                       "{task.fields[requests]:,} requests · {task.fields[failures]} failed"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}", style="yellow"),
            console=console,
            refresh_per_second=REDRAWS_PER_SECOND,
        )  # fmt: skip
        self.task = None
        self.started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.started:
            self.progress.stop()
            self.started = False

    def _requests(self) -> int:
        return sum(getattr(s, "request_count", 0) for s in list(self.sessions))

    def listing(self, name: str, videos: int) -> None:
        self._ensure(f"listing {name}")
        self.progress.update(self.task, description=f"listing {name}: {videos:,}",
                             requests=self._requests())  # fmt: skip

    def planned(self, plan: Plan) -> None:
        self._ensure(plan.name)
        self.progress.update(self.task, description=plan.name, total=len(plan.videos),
                             completed=0, requests=self._requests())  # fmt: skip

    def video_done(self, outcome: VideoOutcome) -> None:
        self.comments += outcome.added
        if outcome.state in ("failed", "partial"):
            self.failures += 1
        self.progress.update(
            self.task,
            advance=1,
            comments=self.comments,
            failures=self.failures,
            requests=self._requests(),
            note="",
        )

    def notice(self, message: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, note=message)

    def _ensure(self, description: str) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        if self.task is None:
            self.task = self.progress.add_task(
                description, total=None, comments=0, requests=0, failures=0, note=""
            )


def _print_plan(plan: Plan, all_history: bool, interval: float) -> None:
    requests = plan.pages(all_history)
    out.print(
        f"{plan.name}: {len(plan.videos):,} of {plan.listed:,} listed videos to fetch: about "
        f"{requests:,} requests, {_duration(requests * interval)} at --interval {interval:g} "
        f"(the listing took {plan.listing_requests} requests)."
    )
    unknown = sum(1 for _, count in plan.videos if count is None)
    if unknown:
        out.print(
            f"{unknown:,} of these videos have no listed comment count (a channel's pages, a "
            "file or a query do not give one): each is counted as one page, so expect more."
        )
    table = Table()
    table.add_column("video")
    table.add_column("listed comments", justify="right")
    table.add_column("requests", justify="right")
    for video_id, count in plan.videos:
        pages = Plan(0, "", 0, [(video_id, count)]).pages(all_history)
        table.add_row(video_id, "unknown" if count is None else f"{count:,}", str(pages))
    out.print(table)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _print_summary(ref: CollectionRef, result, engine) -> None:
    with engine.connect() as connection:
        (report,) = store.collection_reports(connection, ref.name)
    states = report.states
    line = (
        f"{ref.name}: {result.count('complete')} videos fetched, "
        f"{sum(o.added for o in result.outcomes):,} new comments; "
        f"{states.get('complete', 0)} of {report.listed} listed videos complete"
    )
    if states.get("failed"):
        line += f", {states['failed']} cannot be read"
    if states.get("partial") or states.get("pending"):
        left = states.get("partial", 0) + states.get("pending", 0)
        line += f", {left} to resume (run the same command again)"
    out.print(line + ".")
    for outcome in result.outcomes:
        if outcome.state == "failed":
            out.print(f"  {outcome.video_id}: {outcome.reason}")
        elif outcome.state == "partial":
            err.print(f"  {outcome.video_id}: not finished: {outcome.reason}")
