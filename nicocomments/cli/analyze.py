"""`nico analyze`: a video's comments summarised, and optionally drawn."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.table import Table

from nicocomments import store
from nicocomments.cli.common import (
    BinOption,
    FormatOption,
    TimeZoneOption,
    TokenizerOption,
    err,
    guarded,
    out,
    output_format,
    require_video,
)
from nicocomments.errors import BadInput, VideoNotFound
from nicocomments.ids import parse_video_id
from nicocomments.limits import shown
from nicocomments.records import video_clock


@guarded
def analyze(
    video: Annotated[
        str | None,
        typer.Argument(help="Video id or watch URL (not with --all).", show_default=False),
    ] = None,
    *,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            help="Also draw density over video time (highlights marked) and posting activity "
            "(needs the plot extra: pip install 'nicocomments[plot]', or '.[plot]' in a checkout).",
        ),
    ] = None,
    output: FormatOption = "table",
    terms: Annotated[int, typer.Option("--terms", min=0, help="How many top terms.")] = 20,
    top: Annotated[int, typer.Option("--highlights", min=0, help="How many highlights.")] = 5,
    bin_size: BinOption = "10s",
    tz: TimeZoneOption = "Asia/Tokyo",
    tokenizer: TokenizerOption = "auto",
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset",
            metavar="DIR",
            help="Analyse the Parquet dataset in DIR (nico import --to, nico export "
            "--partitioned) instead of the database: DuckDB does the counting.",
            show_default=False,
        ),
    ] = None,
    corpus: Annotated[
        bool,
        typer.Option(
            "--all",
            help="With --dataset: the whole corpus (comments per month, the busiest videos, "
            "the most common comments, the busiest videos' highlights).",
        ),
    ] = False,
    db: str,
) -> None:
    """Summarise a video's stored comments: how many per fork, who posted, when (first, last,
    busiest day), the highlights (moments of the video that drew the most comments, robust to
    floods) with their video times, the commands used and the top terms (Japanese tokenized).

    Owner and deleted comments are counted but left out of highlights, terms and users.
    Density and highlights keep to the video's length (comments outside it are counted apart);
    a highlight needs a score (robust z-score) of 3.5 or more. With --plot, also writes a
    figure: comments per minute over video time with the highlights marked, and comments per
    day, week or month of posting.

    **Examples**

        nico analyze sm9
        nico analyze sm9 --plot sm9.png
        nico analyze sm9 --format json | jq .highlights
        nico analyze sm9 --dataset comments/
        nico analyze --dataset comments/ --all --format json
    """
    output = output_format(output)
    if corpus and (dataset is None or video is not None):
        raise BadInput("--all analyses a whole dataset: give --dataset DIR and no video")
    if not corpus and video is None:
        raise BadInput("which video? give its id (or --dataset DIR --all for every video)")
    from nicocomments import analysis as na

    try:
        ZoneInfo(tz)
    except (ValueError, OSError, ZoneInfoNotFoundError):  # OSError: a name too long for a file
        raise BadInput(f"unknown time zone {shown(tz)}") from None
    try:
        na.bin_milliseconds(bin_size)
        na.make_tokenizer(tokenizer.lower())
    except (ValueError, ImportError) as exc:
        raise BadInput(str(exc)) from None
    options = {
        "terms": terms,
        "top": top,
        "bin": bin_size,
        "tz": tz,
        "tokenizer": tokenizer.lower(),
    }
    if dataset is not None:
        if corpus:
            _corpus(na.scan_comments(dataset, tz=tz), output, top, terms, bin_size)
            return
        video_id = parse_video_id(video)
        if na.load_videos(dataset, video_id).empty:
            raise VideoNotFound(f"{video_id} is not in the dataset {dataset}")
        result = na.summarize_video(dataset, video_id, **options)
    else:
        video_id = parse_video_id(video)
        with store.database(db, read_only=True) as engine:
            with engine.connect() as connection:
                require_video(connection, video_id, db)
            result = na.summarize_video(engine, video_id, **options)
    summary = result.summary
    if output == "json":
        out.print_json(json.dumps(summary, ensure_ascii=False, default=str))
    elif output == "csv":
        _print_csv(summary)
    else:
        _print_tables(summary)
    if plot is not None:
        from nicocomments.analysis.plot import plot_summary

        plot_summary(
            video_id, result.density, result.highlights, result.activity, plot, length=result.length
        )
        err.print(f"Wrote the figure to {plot}.")


def _corpus(scan, output: str, top: int, terms: int, bin_size: str) -> None:
    from nicocomments import analysis as na

    result = na.summarize_corpus(scan, top=max(top, 1), texts=max(terms, 1), bin=bin_size)
    months = result.months.reset_index()
    months["month"] = months["month"].dt.strftime("%Y-%m")
    videos = result.videos.copy()
    for column in ("first_posted_at", "last_posted_at"):  # in the zone asked for, not UTC
        videos[column] = videos[column].map(lambda t: t.isoformat())
    sections = {
        "months": months,
        "videos": videos,
        "comments": result.comments,
        "highlights": result.highlights,
    }
    plain = {
        name: json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
        for name, frame in sections.items()
    }
    for row in plain["highlights"]:  # Timedeltas as video clocks, as for one video
        for key in ("start", "end"):
            row[key] = video_clock(row[key] / 1000)
        row["score"] = round(row["score"], 2)
    if output == "json":
        out.print_json(json.dumps(plain, ensure_ascii=False))
        return
    if output == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(("section", "item", "field", "value"))
        for name, rows in plain.items():
            for index, row in enumerate(rows, 1):
                for field, value in row.items():
                    writer.writerow((name, index, field, value))
        return
    total = int(result.months["comments"].sum())
    out.print(f"{total:,} comments over {len(result.months):,} months")
    titles = {
        "months": "Comments per month",
        "videos": "Busiest videos",
        "comments": "Most common comments",
        "highlights": "Highlights of the busiest videos",
    }
    for name, rows in plain.items():
        if not rows:
            continue
        table = Table(title=titles[name], title_justify="left")
        columns = [c for c in rows[0] if c not in ("baseline", "prominence")]
        for column in columns:
            table.add_column(column, justify="right" if column in _NUMERIC else "left")
        for row in rows:
            table.add_row(*(_cell(c, _short(row[c])) for c in columns))
        out.print(table)


_NUMERIC = frozenset({"rank", "comments", "score", "share", "videos"})


def _short(value):
    """ISO times to the minute (a table is read, not parsed)."""
    if isinstance(value, str) and len(value) > 16 and value[4:5] == "-" and value[10:11] == "T":
        return value[:16]
    return value


def _print_tables(summary: dict) -> None:
    forks = ", ".join(f"{k} {v:,}" for k, v in summary["by_fork"].items() if v)
    out.print(f"{summary['video_id']}: {summary['comments']:,} comments ({forks or 'none'})")
    out.print(f"  deleted {summary['deleted']:,}, posted by {summary['users']:,} users")
    if summary["first_posted_at"]:
        out.print(
            f"  posted from {summary['first_posted_at'][:16]} to "
            f"{summary['last_posted_at'][:16]} ({summary['time_zone']})"
        )
    if summary["busiest_day"]:
        busiest = summary["busiest_day"]
        out.print(f"  busiest day {busiest['date']}: {busiest['comments']:,} comments")
    out.print(f"  {_outside_line(summary)}")
    sections = (
        ("Highlights", "highlights", ("rank", "start", "end", "comments", "score", "top_comment")),
        ("Commands", "commands", ("kind", "value", "comments", "share")),
        ("Top terms", "top_terms", ("term", "comments", "share")),
    )
    if not summary["highlights"]:
        out.print("Highlights: no moment of the video stands out (none scores 3.5 or more)")
    for title, key, columns in sections:
        if not summary[key]:
            continue
        table = Table(title=title, title_justify="left")
        for column in columns:
            numeric = column in ("rank", "comments", "score", "share")
            table.add_column(column, justify="right" if numeric else "left")
        for row in summary[key]:
            table.add_row(*(_cell(c, row[c]) for c in columns))
        out.print(table)


def _outside_line(summary: dict) -> str:
    """Where density and highlights stop, and what they leave out."""
    before, after = summary["outside_video"]["before_start"], summary["outside_video"]["after_end"]
    if summary["video_length"] is None:
        where = "video length unknown: density and highlights run from 0:00 to the last comment"
    else:
        where = f"video length {summary['video_length']}: density and highlights cover 0:00 to it"
    if not before and not after:
        return where
    return f"{where}; left out: {before:,} comments before 0:00, {after:,} after the end"


def _cell(column: str, value) -> str:
    if column == "share":
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _print_csv(summary: dict) -> None:
    """Everything of the JSON summary as one long table (section, item, field, value): the
    video's values (an object's as ``name.field``; absent ones empty), comments per fork, and
    one row per field of each highlight, command and term."""
    writer = csv.writer(sys.stdout)  # CRLF line ends: a text holding a bare CR stays quoted
    writer.writerow(("section", "item", "field", "value"))
    video = summary["video_id"]
    for key, value in summary.items():
        if key in ("video_id", "by_fork") or isinstance(value, list):
            continue
        if isinstance(value, dict):
            for field, inner in value.items():
                writer.writerow(("video", video, f"{key}.{field}", inner))
        elif key == "busiest_day":  # None: no comments
            writer.writerow(("video", video, f"{key}.date", None))
            writer.writerow(("video", video, f"{key}.comments", None))
        else:
            writer.writerow(("video", video, key, value))
    for fork, count in summary["by_fork"].items():
        writer.writerow(("forks", fork, "comments", count))
    for key in ("highlights", "commands", "top_terms"):
        for index, row in enumerate(summary[key], 1):
            for field, value in row.items():
                writer.writerow((key, index, field, value))
