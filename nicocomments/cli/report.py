"""`nico report`: one self-contained HTML file of interactive charts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
from nicocomments.limits import shown


@guarded
def report(
    context: typer.Context,
    videos: Annotated[
        list[str] | None,
        typer.Argument(
            help="Video ids or watch URLs (several: one section each).", show_default=False
        ),
    ] = None,
    *,
    every: Annotated[
        bool, typer.Option("--all", help="Every video in the database (or the dataset).")
    ] = False,
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
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset",
            metavar="DIR",
            help="Report on the Parquet dataset in DIR (nico import --to, nico export "
            "--partitioned) instead of the database, DuckDB doing the counting: give videos "
            "or --all (not --collection). Titles, lengths and re-crawl changes are the "
            "database's, absent here.",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            "--top",
            metavar="N",
            min=1,
            help="Only the N busiest videos get a section; the summary table lists the others "
            "too. Default: every video of the database; the 20 busiest of a dataset (its "
            "table lists up to 1,000).",
            show_default=False,
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
    comments on hover), posting activity per day (per hour or minute when it spans a few
    days, as a live program's does; zoomable), commands and colours, top terms,
    users' share, and for re-crawled videos the deletions and nicoru changes over time. With
    several videos (or --all), a summary table on top links to each video's section (--top N:
    only the N busiest get one). Needs the report extra: pip install 'nicocomments[report]'.

    With --dataset DIR, the same charts from a Parquet dataset (DuckDB counts; nothing is
    loaded whole): the summary table has one row per video (the 1,000 busiest at most) and
    the --top N busiest get a section. A dataset keeps comments only, so titles, lengths and
    re-crawl changes are absent, and the page says so.

    **Examples**

        nico report sm9 -o sm9.html
        nico report sm9 so23335421 -o two.html
        nico report --all -o everything.html
        nico report --collection user/12345 -o uploads.html
        nico report --dataset comments/ --all --top 50 -o corpus.html
    """
    tokenizer = _check_options(tz, bin_size, tokenizer)
    if dataset is not None:
        if context.get_parameter_source("db").name == "COMMANDLINE":
            raise BadInput("--dataset reads DIR, not a database: leave out --db")
        _dataset_report(
            dataset, videos, every, collection, top, output, bin_size, terms, tz, tokenizer
        )
        return
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
        target = _target(output, video_ids[0] if len(video_ids) == 1 else None)
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
                top=top,
            )
    size = target.stat().st_size / 1_000_000
    err.print(f"Wrote the report of {len(video_ids):,} video(s) to {target} ({size:.1f} MB).")


def _check_options(tz: str, bin_size: str, tokenizer: str) -> str:
    """A bad --tz, --bin or --tokenizer is bad input (exit 2), told before anything is drawn;
    the tokenizer's name, lower-cased."""
    from nicocomments.analysis import bin_milliseconds, make_tokenizer

    try:
        ZoneInfo(tz)
    except (ValueError, OSError, ZoneInfoNotFoundError):  # OSError: a name too long for a file
        raise BadInput(f"unknown time zone {shown(tz)}") from None
    try:
        bin_milliseconds(bin_size)
        make_tokenizer(tokenizer.lower())
    except (ValueError, ImportError) as exc:
        raise BadInput(str(exc)) from None
    return tokenizer.lower()


def _dataset_report(
    directory: Path,
    videos: list[str] | None,
    every: bool,
    collection: str | None,
    top: int | None,
    output: Path | None,
    bin_size: str,
    terms: int,
    tz: str,
    tokenizer: str,
) -> None:
    """`nico report --dataset DIR`: the page written part by part as DuckDB counts."""
    if collection is not None:
        raise BadInput("--dataset and --collection are alternatives: a dataset has no collections")
    if bool(videos) == every:
        raise BadInput("give videos or --all with --dataset (one of them)")
    from nicocomments.analysis.dataset_report import select_dataset_videos, write_dataset_report
    from nicocomments.analysis.report import DEFAULT_TOP

    video_ids = None if every else [parse_video_id(v) for v in videos or ()]
    selection = select_dataset_videos(
        directory, video_ids, top=DEFAULT_TOP if top is None else top, tz=tz
    )
    single = selection.videos == 1
    target = _target(output, selection.rows[0]["video_id"] if single else None)
    with _writing(target) as out:
        write_dataset_report(
            selection,
            out,
            tz=tz,
            bin=bin_size,
            terms=terms,
            tokenizer=tokenizer,
            progress=lambda video_id: err.print(f"Charting {video_id}…"),
        )
    size = target.stat().st_size / 1_000_000
    err.print(
        f"Wrote the report of {selection.videos:,} video(s), {len(selection.charted):,} "
        f"charted, to {target} ({size:.1f} MB)."
    )


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


def _target(output: Path | None, video_id: str | None) -> Path:
    """Where the page goes: ``--output``, else ``<video>.html`` for one video, else
    ``report.html``; never a directory."""
    target = output or Path(f"{video_id}.html" if video_id is not None else "report.html")
    if target.is_dir():
        raise BadInput(f"{target} is a directory")
    return target


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
