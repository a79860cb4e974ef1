"""Tables more than one command shows: what is stored (`nico status`, `nico demo`)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.table import Table

from nicocomments import store
from nicocomments.cli.common import format_ranges, out
from nicocomments.collect_live import LiveResult
from nicocomments.records import LIVE_FORK


def print_status(report: store.StatusReport, *, details: bool) -> None:
    """The table of threads; with ``details``, each thread's missing numbers and its runs."""
    out.print(_table(report))
    if not details:
        return
    for s in report.summaries:
        key = (s.thread_id, s.fork)
        out.print(f"{s.fork} {s.thread_id}:")
        gaps = report.missing[key]
        if gaps and s.fork == LIVE_FORK:
            count = sum(b - a + 1 for a, b in gaps)
            out.print(
                f"  {count:,} numbers not published (filtered): the broadcaster's server removed "
                f"them before publication, they are not losses; {len(gaps):,} ranges: "
                f"{format_ranges(gaps)}"
            )
        elif gaps:
            count = sum(b - a + 1 for a, b in gaps)
            out.print(f"  missing {count:,} numbers in {len(gaps):,} ranges: {format_ranges(gaps)}")
        if s.fork == LIVE_FORK:
            out.print(
                "  the stored comments reach the begin time"
                if report.reached_begin(s)
                else "  the stored comments do not reach the begin time"
            )
        for run in report.runs[key]:
            started = run["started_at"].strftime("%Y-%m-%d %H:%M")
            out.print(
                f"  run #{run['id']} {started} UTC, {run['protocol']} {run['mode']}, "
                f"{run['status']}: stored {run['comments']:,} of these first"
            )


def history_state(summary: store.ThreadSummary) -> str:
    if summary.catchup_when is not None:  # never "complete" with a stretch left unread
        return "catching up with newer comments, resumable"
    if summary.fork == LIVE_FORK and not summary.history_complete:
        if summary.history_end is not None:
            return f"stopped short of the begin time ({summary.history_end}), resumable"
        if summary.history_when is not None:
            return "walking back, resumable"
        return "newest segments only"
    if summary.fork == LIVE_FORK:  # only reaching the beginning completes a live history
        return "complete, reached the begin time"
    if summary.fork == "owner":
        return "read whole"
    if summary.history_complete:
        return "complete" + (f" ({summary.history_end})" if summary.history_end else "")
    if summary.history_when is not None:
        return "walking, next ≤ " + _date(datetime.fromtimestamp(summary.history_when, UTC))
    return "current window only"


def _table(report: store.StatusReport) -> Table:
    summaries, videos, missing = report.summaries, report.videos, report.missing
    table = Table(show_lines=False)
    for column in (
        "video",
        "thread",
        "fork",
        "stored",
        "server",
        "missing",
        "oldest (UTC)",
        "newest (UTC)",
        "history",
    ):
        right = column in ("stored", "server", "missing")
        table.add_column(column, justify="right" if right else "left")
    for s in summaries:
        title = videos.get(s.video_id, {}).get("title")
        gaps = missing[(s.thread_id, s.fork)]
        table.add_row(
            s.video_id + (f" {title}" if title else ""),
            f"{s.thread_id} ({s.label})" if s.label else s.thread_id,
            s.fork,
            f"{s.stored:,}" + (f" ({s.deleted:,} deleted)" if s.deleted else ""),
            f"{s.server_count:,}" if s.server_count is not None else "?",
            f"{sum(b - a + 1 for a, b in gaps):,}" + (" filtered" if s.fork == LIVE_FORK else ""),
            _date(s.oldest),
            _date(s.newest),
            history_state(s) + (f", {s.skipped} skipped seconds" if s.skipped else ""),
        )
    return table


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def live_summary(result: LiveResult) -> str:
    """One line for a live program: comments stored, other messages, how the walk ended."""
    text = (
        f"{result.program_id} ({result.status.lower().replace('_', ' ')}): "
        f"{result.comments_added:,} new comments, {result.events_added:,} other messages "
        f"in {result.pages} answers [live {result.program_id}: {result.stored:,} stored"
    )
    if result.recording_end:
        text += f", recorded until {result.recording_end}"
    if result.end:
        text += f", {result.end}"
    return text + "]"
