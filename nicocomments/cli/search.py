"""`nico search`: comments containing a text."""

from __future__ import annotations

import csv
import json
import sys
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
    require_video,
)
from nicocomments.errors import BadInput
from nicocomments.ids import parse_video_id
from nicocomments.limits import shown
from nicocomments.records import video_clock
from nicocomments.search import search_comments


@guarded
def search(
    text: Annotated[str, typer.Argument(help="The text to look for.", show_default=False)],
    *,
    video: Annotated[
        str | None, typer.Option("--video", metavar="ID", help="Only in this video.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show at most this many comments.")
    ] = 100,
    output: FormatOption = "table",
    db: str,
) -> None:
    """Find the stored comments that contain TEXT, anywhere in them (Japanese too, since
    nothing depends on word boundaries). Case-insensitive for ASCII letters, and for other
    scripts where the index applies: SQLite's full-text index answers texts of three or more
    characters; PostgreSQL searches with ILIKE.

    **Examples**

        nico search うぽつ
        nico search 8888 --video sm9 --format csv
    """
    output = output_format(output)
    if not text.strip():
        raise BadInput("give a text to search for")
    video_id = parse_video_id(video) if video else None
    with store.database(db, read_only=True) as engine, engine.connect() as connection:
        if video_id is not None:
            require_video(connection, video_id, db)
        total, hits = search_comments(connection, text, video_id=video_id, limit=limit)
    rows = [
        {
            "video_id": h.video_id,
            "thread_id": h.thread_id,
            "fork": h.fork,
            "no": h.no,
            "vpos": video_clock(h.vpos_ms / 1000),
            "posted_at": h.posted_at.isoformat(),
            "content": h.content,
        }
        for h in hits
    ]
    if output == "json":
        out.print_json(json.dumps(rows, ensure_ascii=False))
    elif output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["video_id"])
        writer.writeheader()
        writer.writerows(rows)
    elif rows:
        table = Table()
        for column in ("video", "thread", "fork", "no", "at", "posted (UTC)", "comment"):
            table.add_column(column, justify="right" if column == "no" else "left")
        for row in rows:
            posted = row["posted_at"][:16].replace("T", " ")
            table.add_row(
                row["video_id"],
                row["thread_id"],
                row["fork"],
                str(row["no"]),
                row["vpos"],
                posted,
                row["content"],
            )
        out.print(table)
    showing = f" (showing {len(hits):,})" if len(hits) < total else ""
    err.print(f"{total:,} comment{'s' if total != 1 else ''} contain {shown(text)}{showing}.")
