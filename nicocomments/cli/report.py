"""`nico report`: one self-contained HTML file of interactive charts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO

import typer

from nicocomments import store
from nicocomments.cli.common import (
    BinOption,
    TimeZoneOption,
    TokenizerOption,
    err,
    guarded,
    require_video,
)
from nicocomments.errors import BadInput, VideoNotFound
from nicocomments.ids import parse_video_id


@guarded
def report(
    videos: Annotated[
        list[str] | None,
        typer.Argument(
            help="Video ids or watch URLs (several: one section each).", show_default=False
        ),
    ] = None,
    *,
    every: Annotated[bool, typer.Option("--all", help="Every video in the database.")] = False,
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection",
            metavar="REF",
            help="The stored videos of a collection nico crawl was given (user/ID, mylist/ID, "
            "tag/TAG, … or its site URL), in the listing's order.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE.html",
            help="Where to write (default: <video>.html, or report.html for several).",
        ),
    ] = None,
    bin_size: BinOption = "10s",
    terms: Annotated[int, typer.Option("--terms", min=1, help="How many top terms.")] = 20,
    tz: TimeZoneOption = "Asia/Tokyo",
    tokenizer: TokenizerOption = "auto",
    db: str,
) -> None:
    """Write one self-contained HTML file of interactive charts (Plotly, inlined: it opens
    offline, anywhere): comment density over video time with the highlights marked (their top
    comments on hover), posting activity per day (zoomable), commands and colours, top terms,
    users' share, and for re-crawled videos the deletions and nicoru changes over time. With
    several videos (or --all), a summary table on top links to each video's section. Needs
    the report extra: pip install 'nicocomments[report]'.

    **Examples**

        nico report sm9 -o sm9.html
        nico report sm9 so23335421 -o two.html
        nico report --all -o everything.html
        nico report --collection user/12345 -o uploads.html
    """
    if sum((bool(videos), every, collection is not None)) != 1:
        raise BadInput("give videos, --all or --collection (one of them)")
    from nicocomments.analysis.report import write_report

    with store.database(db, read_only=True) as engine, engine.connect() as connection:
        if every:
            video_ids = [row["video_id"] for row in store.video_rows(connection)]
            if not video_ids:
                raise BadInput(f"{store.describe_target(db)} holds no videos")
        elif collection is not None:
            video_ids = _collection_videos(connection, collection, db)
        else:
            video_ids = list(dict.fromkeys(parse_video_id(v) for v in videos or ()))
            for video_id in video_ids:
                require_video(connection, video_id, db)
        target = output or Path(f"{video_ids[0]}.html" if len(video_ids) == 1 else "report.html")
        if target.is_dir():
            raise BadInput(f"{target} is a directory")
        with _writing(target) as out:
            write_report(
                connection,
                video_ids,
                out,
                tz=tz,
                bin=bin_size,
                terms=terms,
                tokenizer=tokenizer,
                progress=lambda video_id: err.print(f"Charting {video_id}…"),
            )
    size = target.stat().st_size / 1_000_000
    err.print(f"Wrote the report of {len(video_ids):,} video(s) to {target} ({size:.1f} MB).")


def _collection_videos(connection, ref: str, db: str) -> list[str]:
    """The videos of a crawled collection that have something stored, in the listing's order."""
    from nicocomments.listings.refs import parse_ref

    name = parse_ref(ref).name
    collection_id = store.find_collection(connection, name)
    if collection_id is None:
        raise VideoNotFound(f"no collection {name} in {store.describe_target(db)}: crawl it first")
    stored = {row["video_id"] for row in store.video_rows(connection)}
    video_ids = [v for v in store.listed_ids(connection, collection_id) if v in stored]
    if not video_ids:
        raise VideoNotFound(f"collection {name} has no video stored yet: run nico crawl {name}")
    return video_ids


@contextmanager
def _writing(target: Path) -> Iterator[TextIO]:
    """A text stream to write the page into as it is made: beside the target, renamed over it
    once whole, so a failure (or Ctrl-C) never leaves half a page."""
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("w", encoding="utf-8") as out:
            yield out
        os.replace(partial, target)
    except OSError as exc:
        raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
