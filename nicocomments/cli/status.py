"""`nico status`: what is stored, against what the server reported."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from nicocomments import store
from nicocomments.cli.common import (
    DEFAULT_DB,
    DbOption,
    DebugOption,
    VerboseOption,
    format_ranges,
    guarded,
    out,
)
from nicocomments.errors import VideoNotFound
from nicocomments.ids import parse_video_id


@guarded
def status(
    video: Annotated[
        str | None, typer.Argument(help="Only this video (id or watch URL).", show_default=False)
    ] = None,
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    db: DbOption = DEFAULT_DB,
    verbose: VerboseOption = 0,
    debug: DebugOption = False,
) -> None:
    """Show, per video and thread: comments stored against the server's count, the comment
    numbers missing, the oldest and newest stored comment, whether the history walk reached the
    first comment, and (for one video) the runs that built it.

    **Examples**

        nico status
        nico status sm9 --json
    """
    video_id = parse_video_id(video) if video else None
    engine = store.open_db(db, read_only=True)
    try:
        with engine.connect() as connection:
            report = StatusReport.read(connection, video_id)
    finally:
        engine.dispose()
    if video_id is not None and video_id not in report.videos:
        raise VideoNotFound(f"{video_id} is not in {store.describe_target(db)}; fetch it first")
    if as_json:
        out.print_json(json.dumps(report.as_json()))
    elif not report.summaries:
        out.print(f"{store.describe_target(db)} holds no videos yet; try `nico fetch sm9`.")
    else:
        report.print(details=video_id is not None)


@dataclass
class StatusReport:
    """What `nico status` (and `nico demo`) shows, read in one go."""

    summaries: list[store.ThreadSummary]
    videos: dict[str, dict]
    missing: dict[tuple[str, str], list[tuple[int, int]]]
    runs: dict[tuple[str, str], list[dict]]

    @classmethod
    def read(cls, connection, video_id: str | None) -> StatusReport:
        summaries = store.thread_summaries(connection, video_id)
        keys = [(s.thread_id, s.fork, s.server_count) for s in summaries]
        return cls(
            summaries=summaries,
            videos={v["video_id"]: v for v in store.video_rows(connection, video_id)},
            missing={(t, f): store.missing_ranges(connection, t, f, n) for t, f, n in keys},
            runs={(t, f): store.thread_runs(connection, t, f) for t, f, _ in keys},
        )

    def print(self, *, details: bool) -> None:
        out.print(_table(self.summaries, self.videos, self.missing))
        if not details:
            return
        for s in self.summaries:
            key = (s.thread_id, s.fork)
            out.print(f"{s.fork} {s.thread_id}:")
            gaps = self.missing[key]
            if gaps:
                count = sum(b - a + 1 for a, b in gaps)
                out.print(
                    f"  missing {count:,} numbers in {len(gaps):,} ranges: {format_ranges(gaps)}"
                )
            for run in self.runs[key]:
                started = run["started_at"].strftime("%Y-%m-%d %H:%M")
                out.print(
                    f"  run #{run['id']} {started} UTC, {run['protocol']} {run['mode']}, "
                    f"{run['status']}: stored {run['comments']:,} of these first"
                )

    def as_json(self) -> list[dict]:
        return [
            _as_dict(s, self.missing[(s.thread_id, s.fork)], self.runs[(s.thread_id, s.fork)])
            for s in self.summaries
        ]


def history_state(summary: store.ThreadSummary) -> str:
    if summary.fork == "owner":
        return "read whole"
    if summary.history_complete:
        return "complete" + (f" ({summary.history_end})" if summary.history_end else "")
    if summary.history_when is not None:
        return "walking, next ≤ " + _date(datetime.fromtimestamp(summary.history_when, UTC))
    return "current window only"


def _table(summaries: list[store.ThreadSummary], videos: dict, missing: dict) -> Table:
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
            f"{sum(b - a + 1 for a, b in gaps):,}",
            _date(s.oldest),
            _date(s.newest),
            history_state(s) + (f", {s.skipped} skipped seconds" if s.skipped else ""),
        )
    return table


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _as_dict(s: store.ThreadSummary, missing: list, runs: list[dict]) -> dict:
    return {
        "video_id": s.video_id,
        "thread_id": s.thread_id,
        "fork": s.fork,
        "label": s.label,
        "stored": s.stored,
        "deleted": s.deleted,
        "min_no": s.min_no,
        "max_no": s.max_no,
        "server_count": s.server_count,
        "last_res": s.last_res,
        "comment_count": s.comment_count,
        "oldest": s.oldest.isoformat() if s.oldest else None,
        "newest": s.newest.isoformat() if s.newest else None,
        "history_complete": s.history_complete,
        "history_when": s.history_when,
        "history_end": s.history_end,
        "skipped_ranges": s.skipped,
        "missing": [list(r) for r in missing],
        "runs": [
            {**run, "started_at": run["started_at"].isoformat() if run["started_at"] else None}
            for run in runs
        ],
    }
