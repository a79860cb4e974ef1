"""`nico fetch`: collect comments into the database."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated

import typer

from nicocomments.cli.common import (
    DEFAULT_DB,
    BackoffCapOption,
    BackoffOption,
    DbOption,
    DebugOption,
    IntervalOption,
    RetriesOption,
    TimeoutOption,
    VerboseOption,
    err,
    error_line,
    explain_login,
    guarded,
    network,
    out,
)
from nicocomments.cli.progress import RichProgress
from nicocomments.collect import FetchOptions, FetchResult, fetch_video
from nicocomments.errors import AuthError, BadInput, LoginRequired, NicoError
from nicocomments.ids import parse_video_id
from nicocomments.legacy import LegacyClient
from nicocomments.store import describe_target, open_db

JST = timezone(timedelta(hours=9), "JST")
PROTOCOLS = ("legacy",)


@guarded
def fetch(
    ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Video ids (sm9, so…, nm…), bare thread ids, or watch URLs.",
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
    protocol: Annotated[
        str,
        typer.Option(
            "--protocol",
            help="legacy: flapi getflv + the XML message server.",
            case_sensitive=False,
        ),
    ] = "legacy",
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
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file",
            metavar="FILE",
            help="Read more ids from FILE, one per line ('#' starts a comment).",
        ),
    ] = None,
    db: DbOption = DEFAULT_DB,
    interval: IntervalOption = 1.0,
    retries: RetriesOption = 6,
    backoff: BackoffOption = 1.0,
    backoff_cap: BackoffCapOption = 60.0,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = 0,
    debug: DebugOption = False,
) -> None:
    """Collect the comments of one or more videos into the database.

    Without --all-history each thread's current window is stored (what the player shows).
    With it, nico pages back through the past logs to the first comment, committing every
    page as it arrives: interrupt it at any time and run the same command again to resume.
    A later run also picks up comments posted since.

    **Examples**

        nico fetch sm9
        nico fetch sm9 so23335421 --all-history
        nico fetch https://www.nicovideo.jp/watch/sm9 --all-history --before 2012-01-01
    """
    protocol = protocol.lower()
    if protocol not in PROTOCOLS:
        raise BadInput(f"unknown protocol {protocol!r}: choose from {', '.join(PROTOCOLS)}")
    video_ids = _collect_ids(ids or [], from_file)
    options = FetchOptions(
        all_history=all_history,
        before=parse_date(before) if before else None,
        refresh=refresh,
    )
    engine = open_db(db)
    try:
        net = network(
            interval=interval,
            retries=retries,
            backoff=backoff,
            backoff_cap=backoff_cap,
            timeout=timeout,
        )
        results, failures = _fetch_all(engine, net, video_ids, options)
    finally:
        engine.dispose()
    for result in results:
        out.print(_summary(result))
    if failures:
        if len(video_ids) > 1:
            out.print(
                f"{len(results)} of {len(video_ids)} videos fetched; "
                f"failed: {', '.join(video_id for video_id, _ in failures)}"
            )
        raise typer.Exit(int(failures[0][1].exit_status))
    if len(video_ids) > 1 or verbose:
        out.print(f"Stored in {describe_target(db)}.")


def _fetch_all(engine, net, video_ids: list[str], options: FetchOptions):
    results: list[FetchResult] = []
    failures: list[tuple[str, NicoError]] = []
    for video_id in video_ids:
        client = LegacyClient(net.session, net.endpoints)
        try:
            with RichProgress(err) as progress:
                results.append(fetch_video(engine, client, video_id, options, progress))
        except LoginRequired as exc:
            raise explain_login(exc, net) from None
        except AuthError:
            raise  # a session problem stops the whole batch: every later video would fail too
        except NicoError as exc:
            if len(video_ids) == 1:
                raise
            error_line(f"{video_id}: {exc}")
            failures.append((video_id, exc))
    return results, failures


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


def parse_date(text: str) -> int:
    """Unix seconds from a date, a date and time (Japan time unless a zone is given), or a
    number of Unix seconds."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"cannot read the date {text!r}: use 2015-06-01, 2015-06-01T12:00 or Unix seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    seconds = int(moment.timestamp())
    if seconds > time.time() + 86400:
        raise BadInput(f"the date {text!r} is in the future")
    return seconds


def _summary(result: FetchResult) -> str:
    parts = []
    for outcome in result.threads:
        text = f"{outcome.ref.fork} {outcome.ref.thread_id}: {outcome.stored:,} stored"
        if outcome.added:
            text += f" (+{outcome.added:,})"
        if outcome.end:
            text += f", {outcome.end}"
        parts.append(text)
    return (
        f"{result.video_id}: {result.comments_added:,} new comments in {result.pages} pages "
        f"[{'; '.join(parts)}]"
    )
