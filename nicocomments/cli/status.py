"""`nico status`: what is stored, against what the server reported."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from nicocomments import store
from nicocomments.cli.common import guarded, out
from nicocomments.cli.tables import print_status
from nicocomments.errors import VideoNotFound
from nicocomments.ids import parse_video_id


@guarded
def status(
    video: Annotated[
        str | None, typer.Argument(help="Only this video (id or watch URL).", show_default=False)
    ] = None,
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    collections: Annotated[
        bool,
        typer.Option(
            "--collections",
            help="Per crawled collection instead (nico crawl): videos listed, complete, "
            "partial, failed (with reasons), comments stored against the listing's counts.",
        ),
    ] = False,
    db: str,
) -> None:
    """Show, per video and thread: comments stored against the server's count, the comment
    numbers missing, the oldest and newest stored comment, whether the history walk reached the
    first comment, and (for one video) the runs that built it.

    **Examples**

        nico status
        nico status sm9 --json
        nico status --collections
    """
    if collections:
        _collections(db, as_json)
        return
    video_id = parse_video_id(video) if video else None
    with store.database(db, read_only=True) as engine, engine.connect() as connection:
        report = store.status_report(connection, video_id)
    if video_id is not None and video_id not in report.videos:
        raise VideoNotFound(f"{video_id} is not in {store.describe_target(db)}; fetch it first")
    if as_json:
        out.print_json(json.dumps(report.as_json()))
    elif not report.summaries:
        out.print(f"{store.describe_target(db)} holds no videos yet; try `nico fetch sm9`.")
    else:
        print_status(report, details=video_id is not None)


def _collections(db: str, as_json: bool) -> None:
    with store.database(db, read_only=True) as engine, engine.connect() as connection:
        reports = store.collection_reports(connection) if store.has_collections(connection) else []
    if as_json:
        out.print_json(json.dumps([_report_dict(r) for r in reports]))
        return
    if not reports:
        out.print(f"{store.describe_target(db)} holds no collections yet; try `nico crawl`.")
        return
    table = Table(title="Collections")
    for column in ("collection", "listed", "complete", "partial", "pending", "failed",
                   "comments stored", "listed count", "last crawl"):  # fmt: skip
        table.add_column(
            column, justify="left" if column in ("collection", "last crawl") else "right"
        )
    for r in reports:
        table.add_row(
            r.name,
            f"{r.listed:,}",
            *(
                f"{r.states.get(state, 0):,}"
                for state in ("complete", "partial", "pending", "failed")
            ),
            f"{r.comments_stored:,}",
            "unknown" if r.comments_listed is None else f"{r.comments_listed:,}",
            r.crawled_at.strftime("%Y-%m-%d %H:%M UTC") if r.crawled_at else "not finished",
        )
    out.print(table)
    for r in reports:
        for video_id, reason in r.failures:
            out.print(f"{r.name} {video_id}: {reason}")


def _report_dict(report: store.CollectionReport) -> dict:
    return {
        "collection": report.name,
        "title": report.title,
        "listed": report.listed,
        "states": {state: report.states.get(state, 0) for state in store.COLLECTION_STATES},
        "comments_stored": report.comments_stored,
        "comments_listed": report.comments_listed,
        "crawled_at": report.crawled_at.isoformat() if report.crawled_at else None,
        "failed": [{"video_id": v, "reason": reason} for v, reason in report.failures],
    }
