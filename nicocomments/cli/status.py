"""`nico status`: what is stored, against what the server reported."""

from __future__ import annotations

import json
from typing import Annotated

import typer

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
    db: str,
) -> None:
    """Show, per video and thread: comments stored against the server's count, the comment
    numbers missing, the oldest and newest stored comment, whether the history walk reached the
    first comment, and (for one video) the runs that built it.

    **Examples**

        nico status
        nico status sm9 --json
    """
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
