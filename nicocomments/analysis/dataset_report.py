"""`nico report --dataset`: the report of a Parquet dataset's videos, DuckDB doing the counting.

The sections are `report`'s (density over video time with the highlights, posting activity,
commands and colours, top terms, users' share), drawn from `CommentScan`s instead of frames:
only grouped results leave DuckDB, so a dataset of any size fits in memory. The summary table
is one grouped query over the whole selection. Only the ``top`` busiest videos get a section
and the table lists at most `SUMMARY_ROWS` videos, so a corpus of 100,000 videos gives a page
of a few MB, not gigabytes; the page says what it left out.

A dataset keeps comments only: titles, video lengths (so density runs to the last comment) and
what re-crawls saw (deletions and nicoru changes over time) are the database's, and the page
says they are absent.

`write_dataset_report` writes the page as it is made, one video's charts in memory at a time.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd

from nicocomments.analysis.compute import timeline
from nicocomments.analysis.load import JAPAN
from nicocomments.analysis.report import (
    DEFAULT_TOP,
    Chart,
    _anchor,
    _section,
    sections_note,
    viewer_charts,
    write_page_head,
)
from nicocomments.analysis.scan import EVERY_FORK, CommentScan, scan_comments
from nicocomments.errors import BadInput, VideoNotFound

SUMMARY_ROWS = 1_000  # videos listed in the summary table, busiest first
# Its table has no title column: only the first is left-aligned (the page's style aligns two).
DATASET_STYLE = (
    "table.dataset td:nth-child(2), table.dataset th:nth-child(2) { text-align: right; }\n"
)


@dataclass
class DatasetSelection:
    """What a dataset report shows: the summary rows (in listing order), which of them get a
    section, and the whole selection's totals."""

    directory: Path
    rows: list[dict]
    charted: list[str]
    videos: int  # in the selection (the table may list fewer)
    comments: int


def select_dataset_videos(
    directory: str | Path,
    video_ids: Sequence[str] | None = None,
    *,
    top: int = DEFAULT_TOP,
    tz: str = JAPAN,
) -> DatasetSelection:
    """The summary rows of ``video_ids`` (in that order), or of every video of the dataset
    (``None``: busiest first), and the ``top`` busiest of them, which get a section.
    A `BadInput` if ``directory`` is not a dataset, a `VideoNotFound` for a video it lacks."""
    if top < 1:
        raise BadInput("--top must be at least 1")
    everything = scan_comments(directory, forks=EVERY_FORK, include_deleted=True, tz=tz)
    listed = None if video_ids is None else list(dict.fromkeys(video_ids))  # given twice: one row
    if listed is not None and not listed:
        raise BadInput("give at least one video for the report")
    where = "true" if listed is None else f"video_id IN ({', '.join(map(_literal, listed))})"
    limit = "" if listed is not None else f" LIMIT {SUMMARY_ROWS}"
    found = everything.rows(
        "SELECT video_id, count(*) AS comments, count(*) FILTER (is_deleted), "
        "count(DISTINCT user_id) FILTER (fork <> 'owner' AND NOT is_deleted), "
        f"min(posted_at), max(posted_at) FROM {{rows}} WHERE {where} "
        f"GROUP BY video_id ORDER BY comments DESC, video_id{limit}"
    )
    rows = {
        video_id: {
            "video_id": video_id,
            "title": None,
            "comments": int(comments),
            "deleted": int(deleted),
            "users": int(users),
            "first_posted_at": _day(first, tz),
            "last_posted_at": _day(last, tz),
        }
        for video_id, comments, deleted, users, first, last in found
    }
    if listed is None:
        ((videos, comments),) = everything.rows(
            "SELECT count(DISTINCT video_id), count(*) FROM {rows}"
        )
        order = list(rows)  # busiest first
    else:
        missing = [v for v in listed if v not in rows]
        if missing:
            more = f" (and {len(missing) - 1:,} more)" if len(missing) > 1 else ""
            raise VideoNotFound(f"{missing[0]}{more} is not in the dataset {everything.directory}")
        videos, comments = len(listed), sum(r["comments"] for r in rows.values())
        busiest = set(list(rows)[:SUMMARY_ROWS])
        order = [v for v in listed if v in busiest]
    charted = set(list(rows)[:top])  # `rows` is busiest first
    return DatasetSelection(
        directory=everything.directory,
        rows=[rows[v] for v in order],
        charted=[v for v in order if v in charted],
        videos=int(videos),
        comments=int(comments),
    )


def write_dataset_report(
    selection: DatasetSelection,
    out: TextIO,
    *,
    tz: str = JAPAN,
    bin: str = "10s",
    terms: int = 20,
    tokenizer: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> None:
    """Write the report of ``selection`` (`select_dataset_videos`) to ``out`` as one HTML
    document, as `report.write_report` does: the head, the notes and the summary table, then
    each section as soon as its charts are drawn. ``progress(video_id)`` is told as each
    section starts."""
    title = (
        f"nico report: {selection.rows[0]['video_id']}"
        if selection.videos == 1
        else f"nico report ({selection.videos:,} videos)"
    )
    write_page_head(out, title, DATASET_STYLE)
    out.write(_dataset_notes(selection) + "\n" + _dataset_summary_table(selection))
    rows = {row["video_id"]: row for row in selection.rows}
    for video_id in selection.charted:
        if progress is not None:
            progress(video_id)
        charts = dataset_video_charts(
            selection.directory, video_id, tz=tz, bin=bin, terms=terms, tokenizer=tokenizer
        )
        out.write("\n" + _section(rows[video_id], charts))
    out.write("\n</body>\n</html>\n")


def dataset_video_charts(
    directory: Path,
    video_id: str,
    *,
    tz: str = JAPAN,
    bin: str = "10s",
    terms: int = 20,
    tokenizer: str = "auto",
) -> list[Chart]:
    """One video's charts from the dataset: `report.video_charts`' but the re-crawl changes
    (the database's), density running to the last comment (a dataset has no lengths)."""
    viewers: CommentScan = scan_comments(directory, video_id, tz=tz)  # all forks but the owner's
    return viewer_charts(
        viewers, bin=bin, span=None, terms=terms, tokenizer=tokenizer, axis=timeline(video_id)
    )


# --- the page ------------------------------------------------------------------------------------


def _dataset_notes(selection: DatasetSelection) -> str:
    where = html.escape(str(selection.directory))
    notes = [
        f"From the Parquet dataset <code>{where}</code>: {selection.comments:,} comments of "
        f"{selection.videos:,} video(s). A dataset keeps comments only, so titles, video "
        "lengths (density runs to the last comment) and what re-crawls saw (deletions and "
        "nicoru changes over time) are absent: they are in the database the dataset was made "
        "from (<code>nico report VIDEO --db …</code>)."
    ]
    if len(selection.rows) < selection.videos:
        notes.append(
            f"The table lists the {len(selection.rows):,} busiest of the {selection.videos:,} "
            "videos."
        )
    if (note := sections_note(len(selection.charted), len(selection.rows))) is not None:
        notes.append(note)
    return "\n".join(f'<p class="note">{note}</p>' for note in notes)


def _dataset_summary_table(selection: DatasetSelection) -> str:
    head = (
        "<tr><th>video</th><th>comments</th><th>deleted</th><th>users</th>"
        "<th>first posted</th><th>last posted</th></tr>"
    )
    charted = set(selection.charted)
    body = []
    for row in selection.rows:
        video_id = html.escape(row["video_id"])
        link = (
            f'<a href="#{_anchor(row["video_id"])}">{video_id}</a>'
            if row["video_id"] in charted
            else video_id
        )
        cells = [
            link,
            f"{row['comments']:,}",
            f"{row['deleted']:,}",
            f"{row['users']:,}",
            html.escape(row["first_posted_at"] or ""),
            html.escape(row["last_posted_at"] or ""),
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="summary dataset" id="top">\n{head}\n' + "\n".join(body) + "\n</table>"


def _day(value, tz: str) -> str | None:
    if value is None:
        return None
    return pd.Timestamp(value).tz_convert(tz).date().isoformat()


def _literal(value: str) -> str:
    """A SQL string literal, its braces doubled for `CommentScan.rows`' ``str.format``."""
    return "'" + str(value).replace("'", "''").replace("{", "{{").replace("}", "}}") + "'"
