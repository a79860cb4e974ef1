"""`nico fetch`: collect comments into the database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nicocomments.cli.common import (
    BackoffCapOption,
    BackoffOption,
    IntervalOption,
    LiveIntervalOption,
    ProtocolOption,
    RateLimitWaitOption,
    RetriesOption,
    TimeoutOption,
    comment_client,
    err,
    error_line,
    explain_login,
    format_ranges,
    guarded,
    live_client,
    network,
    out,
    parse_date,
    protocol_choice,
)
from nicocomments.cli.progress import RichProgress
from nicocomments.cli.tables import live_summary
from nicocomments.collect import FetchOptions, FetchResult, collect_video
from nicocomments.collect import fill_gaps as fill_video_gaps
from nicocomments.collect_live import LiveOptions, LiveResult, collect_program
from nicocomments.errors import AuthError, BadInput, LoginRequired, NicoError
from nicocomments.ids import is_program_id, parse_video_id
from nicocomments.store import database, describe_target


@guarded
def fetch(
    ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Video ids (sm9, so…, nm…), bare thread ids, live programs (lv…), or watch URLs.",
            show_default=False,
        ),
    ] = None,
    *,
    all_history: Annotated[
        bool,
        typer.Option(
            "--all-history",
            help="Page back through past logs to the first comment, not just the current window.",
        ),
    ] = False,
    protocol: ProtocolOption = "auto",
    before: Annotated[
        str | None,
        typer.Option(
            "--before",
            metavar="DATE",
            help="Start a new history walk at DATE instead of now "
            "(2015-06-01, 2015-06-01T12:00, Unix seconds; without a zone: Japan time).",
        ),
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option("--refresh", help="Walk a history again even if it was completed before."),
    ] = False,
    fill_gaps: Annotated[
        bool,
        typer.Option(
            "--fill-gaps",
            help="Instead of fetching the current window, ask again around comment numbers "
            "missing from what is stored and report the ones the server would not return "
            "(with --all-history: after walking the history).",
        ),
    ] = False,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file",
            metavar="FILE",
            help="Read more ids from FILE, one per line ('#' starts a comment).",
        ),
    ] = None,
    db: str,
    interval: IntervalOption = 1.0,
    retries: RetriesOption = 6,
    backoff: BackoffOption = 1.0,
    backoff_cap: BackoffCapOption = 60.0,
    timeout: TimeoutOption = 30.0,
    live_interval: LiveIntervalOption = 0.012,
    rate_limit_wait: RateLimitWaitOption = 60.0,
    verbose: int,
) -> None:
    """Collect the comments of one or more videos into the database.

    Without --all-history each thread's current window is stored (what the player shows).
    With it, nico pages back through the past logs to the first comment, committing every
    page as it arrives: interrupt it at any time and run the same command again to resume.
    A later run also picks up comments posted since.

    Live programs (lv…): without --all-history the comments the message server serves now;
    with it the whole past, walked back through the message server's backward chains. An
    ended program is read through its timeshift, which nico reserves (a logged-in session is
    needed, for most programs a premium one).

    **Examples**

        nico fetch sm9
        nico fetch sm9 so23335421 --all-history
        nico fetch https://www.nicovideo.jp/watch/sm9 --all-history --before 2012-01-01
        nico fetch lv345678901 --all-history
    """
    protocol = protocol_choice(protocol)
    video_ids = _collect_ids(ids or [], from_file)
    options = FetchOptions(
        all_history=all_history,
        before=parse_date(before) if before else None,
        refresh=refresh,
    )
    outcomes: list[_Outcome] = []
    with database(db) as engine:
        net = network(
            interval=interval,
            retries=retries,
            backoff=backoff,
            backoff_cap=backoff_cap,
            timeout=timeout,
        )
        for video_id in video_ids:
            outcome = _Outcome(video_id)
            outcomes.append(outcome)
            client = comment_client(protocol, net, rate_limit_wait)
            try:
                if is_program_id(video_id):
                    if fill_gaps or before:
                        raise BadInput("--fill-gaps and --before do not apply to live programs")
                    live = live_client(net, interval=live_interval, timeout=timeout)
                    with RichProgress(err) as progress:
                        net.session.on_retry = live.message_session.on_retry = progress.notice
                        outcome.live = collect_program(
                            engine, live, video_id, LiveOptions(all_history, refresh), progress
                        )
                    continue
                with RichProgress(err) as progress:
                    net.session.on_retry = client.on_wait = progress.notice
                    if all_history or not fill_gaps:
                        outcome.result = collect_video(engine, client, video_id, options, progress)
                    if fill_gaps:
                        outcome.gaps = fill_video_gaps(engine, client, video_id, progress)
            except NicoError as exc:
                outcome.error = explain_login(exc, net) if isinstance(exc, LoginRequired) else exc
                if isinstance(exc, AuthError) or len(video_ids) == 1:
                    # A session problem stops the batch: every later video would fail too.
                    _report(outcomes, batch=len(video_ids) > 1)
                    raise outcome.error from None
                error_line(f"{video_id}: {exc}")
    _report(outcomes, batch=len(video_ids) > 1)
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        raise typer.Exit(int(failed[0].error.exit_status))
    if len(video_ids) > 1 or verbose:
        out.print(f"Stored in {describe_target(db)}.")


@dataclass
class _Outcome:
    video_id: str
    result: FetchResult | None = None
    gaps: FetchResult | None = None
    live: LiveResult | None = None
    error: NicoError | None = None


def _report(outcomes: list[_Outcome], *, batch: bool) -> None:
    for outcome in outcomes:
        if outcome.live is not None:
            out.print(live_summary(outcome.live))
        if outcome.result is not None:
            out.print(_summary(outcome.result))
        if outcome.gaps is not None:
            for line in _gap_lines(outcome.gaps):
                out.print(line)
    if not batch:
        return
    table = Table(title="Batch summary")
    for column in ("video", "result", "new comments", "stored", "history"):
        table.add_column(
            column, justify="right" if column in ("new comments", "stored") else "left"
        )
    for outcome in outcomes:
        result = outcome.result
        if outcome.error is not None:
            table.add_row(outcome.video_id, f"failed: {outcome.error}", "", "", "")
        elif outcome.live is not None:
            live = outcome.live
            table.add_row(
                outcome.video_id,
                "ok",
                f"{live.comments_added:,}",
                f"{live.stored:,}",
                live.end or "served now",
            )
        elif result is not None:
            ends = {t.end for t in result.threads if t.ref.fork != "owner" and t.end}
            table.add_row(
                outcome.video_id,
                "ok",
                f"{result.comments_added:,}",
                f"{sum(t.stored for t in result.threads):,}",
                ", ".join(sorted(ends)) or "current window",
            )
    out.print(table)
    done = sum(1 for o in outcomes if o.error is None and (o.result or o.live) is not None)
    failed = [o.video_id for o in outcomes if o.error is not None]
    line = f"{done} of {len(outcomes)} videos fetched"
    out.print(line + (f"; failed: {', '.join(failed)}" if failed else "") + ".")


def _gap_lines(result: FetchResult) -> list[str]:
    lines = []
    for thread in result.threads:
        before = sum(b - a + 1 for a, b in thread.missing_before)
        after = sum(b - a + 1 for a, b in thread.missing_after)
        name = f"{result.video_id} {thread.ref.fork} {thread.ref.thread_id}"
        if not before:
            lines.append(f"{name}: no comment numbers missing.")
            continue
        text = f"{name}: {before:,} numbers were missing, {thread.added:,} recovered"
        if after:
            text += (
                f"; the server would not return {after:,} (deleted comments, or ones past logs "
                f"do not serve): {format_ranges(thread.missing_after)}"
            )
        lines.append(text)
    return lines


def _collect_ids(raw: list[str], from_file: Path | None) -> list[str]:
    texts = list(raw)
    if from_file is not None:
        try:
            lines = from_file.read_text(encoding="utf-8-sig").splitlines()
        except OSError as exc:
            raise BadInput(f"cannot read {from_file}: {exc.strerror or exc}") from None
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line:
                texts.append(line)
    if not texts:
        raise BadInput("no video ids given: name some, or use --from-file")
    seen: dict[str, None] = {}
    for text in texts:
        seen.setdefault(parse_video_id(text), None)
    return list(seen)


def _summary(result: FetchResult) -> str:
    parts = []
    for outcome in result.threads:
        text = f"{outcome.ref.fork} {outcome.ref.thread_id}: {outcome.stored:,} stored"
        if outcome.added:
            text += f" (+{outcome.added:,})"
        if outcome.end:
            text += f", {outcome.end}"
        parts.append(text)
    gone = f", {result.comments_unserved:,} no longer served" if result.comments_unserved else ""
    return (
        f"{result.video_id}: {result.comments_added:,} new comments{gone} in {result.pages} "
        f"pages [{'; '.join(parts)}]"
    )
