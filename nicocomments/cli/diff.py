"""`nico diff`: what changed in a video's comments between re-crawls."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from nicocomments import store
from nicocomments.cli.common import (
    FormatOption,
    err,
    guarded,
    out,
    output_format,
    parse_date,
    require_video,
)
from nicocomments.errors import BadInput
from nicocomments.ids import parse_video_id
from nicocomments.limits import shown
from nicocomments.records import CHANGE_KINDS, video_clock

SHOWN_PER_KIND = 10  # the table lists this many comments of each kind (JSON and CSV: all)


@guarded
def diff(
    video: Annotated[str, typer.Argument(help="A video id or URL.", show_default=False)],
    *,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Changes seen after DATE (2026-11-01, 2026-11-01T12:00, Unix seconds; "
            "without a zone: Japan time).",
        ),
    ] = None,
    runs: Annotated[
        str | None,
        typer.Option(
            "--runs",
            metavar="A..B",
            help="Changes between the state after run A and after run B (fetch_runs ids; "
            "A.. or ..B leave one end open).",
        ),
    ] = None,
    output: FormatOption = "table",
    db: str,
) -> None:
    """Show what changed in a video's stored comments between fetches: comments added,
    deleted (or no longer served: today's server leaves deleted comments out, which a complete
    pass such as **nico fetch --all-history --refresh** notices), restored (deleted before,
    served again), and comments whose nicoru count or NG score moved, per fork. Without
    --since or --runs: everything since the first fetch.

    **Examples**

        nico diff sm9
        nico diff sm9 --runs 1..3 --format json
        nico diff sm9 --since 2026-11-01 --format csv
    """
    output = output_format(output)
    video_id = parse_video_id(video)
    window = _runs(runs) if runs is not None else None
    moment = datetime.fromtimestamp(parse_date(since), UTC) if since is not None else None
    from nicocomments.analysis import diff_video

    with store.database(db, read_only=True) as engine, engine.connect() as connection:
        require_video(connection, video_id, db)
        changes = diff_video(connection, video_id, since=moment, runs=window)
    if output == "json":
        out.print_json(json.dumps(_json(changes), ensure_ascii=False))
    elif output == "csv":
        _csv(changes)
    else:
        _table(changes)
    counts = changes.counts()
    err.print(
        f"{video_id}, runs {_span(changes)}: "
        + ", ".join(f"{counts[kind]:,} {kind.replace('_', ' ')}" for kind in CHANGE_KINDS)
        + "."
    )


def _runs(text: str) -> tuple[int | None, int | None]:
    first, dots, last = text.partition("..")
    try:
        if not dots:
            raise ValueError
        return (int(first) if first.strip() else None, int(last) if last.strip() else None)
    except ValueError:
        raise BadInput(
            f"--runs takes A..B (run ids, as nico status --details shows them), not {shown(text)}"
        ) from None


def _span(changes) -> str:
    first = "start" if changes.first_run is None else f"#{changes.first_run}"
    last = "now" if changes.last_run is None else f"#{changes.last_run}"
    return f"{first}..{last}"


def _json(changes) -> dict:
    by_fork = changes.fork_counts()
    payload: dict = {
        "video_id": changes.video_id,
        "first_run": changes.first_run,
        "last_run": changes.last_run,
    }
    for kind in CHANGE_KINDS:
        records = changes.records(kind)
        payload[kind] = {
            "count": len(records),
            "by_fork": {fork: n[kind] for fork, n in by_fork.items() if n[kind]},
            "comments": records,
        }
    return payload


def _csv(changes) -> None:
    writer = csv.writer(sys.stdout)
    writer.writerow(["change", *changes.frames[CHANGE_KINDS[0]].columns])
    for kind in CHANGE_KINDS:
        for record in changes.records(kind):
            writer.writerow([kind, *("" if v is None else v for v in record.values())])


def _table(changes) -> None:
    summary = Table(title=f"{changes.video_id}: changes, runs {_span(changes)}")
    summary.add_column("fork")
    for kind in CHANGE_KINDS:
        summary.add_column(kind.replace("_", " "), justify="right")
    for fork, counts in changes.fork_counts().items():
        summary.add_row(fork, *(f"{counts[kind]:,}" for kind in CHANGE_KINDS))
    out.print(summary)
    for kind in CHANGE_KINDS:
        records = changes.records(kind)
        if not records:
            continue
        table = Table(title=f"{kind.replace('_', ' ')} ({len(records):,})")
        for column in ("fork", "no", "at", "nicoru", "score", "comment"):
            table.add_column(
                column, justify="right" if column in ("no", "nicoru", "score") else "left"
            )
        for r in records[:SHOWN_PER_KIND]:
            table.add_row(
                r["fork"],
                str(r["no"]),
                video_clock(r["vpos_ms"] / 1000),
                _moved(r["nicoru_before"], r["nicoru_after"]),
                _moved(r["score_before"], r["score_after"]),
                r["content"] or "",
            )
        out.print(table)
        if len(records) > SHOWN_PER_KIND:
            out.print(f"… and {len(records) - SHOWN_PER_KIND:,} more (--format json or csv: all)")


def _moved(before, after) -> str:
    if before is None or before == after:
        return "" if after is None else str(after)
    return f"{before} → {after}"
