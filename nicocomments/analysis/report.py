"""`nico report`: one self-contained HTML file of interactive charts, for one video or many.

Charts are Plotly figures (the ``report`` extra). plotly.js is inlined once, in the page's
head, and every figure's data is inlined beside its ``<div>``: the file opens without a network
connection, anywhere. Text renders in the reader's own system fonts (`FONT_FAMILY` names the
usual Japanese ones before the generic family), so nothing is downloaded for Japanese either.

Each video gets a section: comment density over video time with the highlights marked (their
most frequent comments on hover), posting activity per day (zoomable, with a range slider),
commands and colours, top terms, users' share, and, when re-crawls saw changes, deletions and
nicoru changes over time. A summary table on top has one row per video, linking to its section.
`write_report` takes a list of video ids, so a collection or a dataset is one more list, and
writes the page as it is made: one video's charts in memory at a time, however many videos.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

import pandas as pd
from sqlalchemy import Connection, Engine, case, func, select

from nicocomments.analysis.changes import load_observations, observation_series
from nicocomments.analysis.compute import (
    activity,
    commands_summary,
    density,
    highlights,
    timeline,
    user_stats,
    vpos_span,
)
from nicocomments.analysis.load import JAPAN, _connection, load_comments, load_videos
from nicocomments.analysis.scan import CommentScan
from nicocomments.analysis.terms import top_terms
from nicocomments.commands import COLORS, color_code
from nicocomments.errors import BadInput
from nicocomments.records import video_clock
from nicocomments.schema import comment_observations, comments, videos
from nicocomments.store import posted_unix

FONT_FAMILY = (
    "system-ui, -apple-system, 'Hiragino Sans', 'Hiragino Kaku Gothic ProN', 'Yu Gothic UI', "
    "'Yu Gothic', Meiryo, 'Noto Sans CJK JP', 'Noto Sans JP', sans-serif"
)
CHART_CONFIG = {"displaylogo": False, "responsive": True}
TOP_COMMENTS = 3  # shown on hover over a highlight
TOP_USERS = 15
ACTIVITY_DAYS = 3  # posting spread over fewer days: activity per hour or minute
TICK_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)  # seconds of video per tick
PALETTE = {"main": "#1f77b4", "owner": "#7f7f7f", "easy": "#2ca02c"}

DEFAULT_TOP = 20  # videos with a full section, busiest first, of a dataset's report
PAGE_STYLE = f"""
body {{ font-family: {FONT_FAMILY}; margin: 0 auto; max-width: 1100px; padding: 1em;
  color: #222; background: #fff; }}
h1, h2, h3 {{ font-weight: 600; }}
table.summary {{ border-collapse: collapse; width: 100%; font-size: 0.95em; }}
table.summary th, table.summary td {{ border-bottom: 1px solid #ddd; padding: 0.3em 0.5em;
  text-align: right; }}
table.summary th:nth-child(-n+2), table.summary td:nth-child(-n+2) {{ text-align: left; }}
section.video {{ border-top: 2px solid #ccc; margin-top: 2em; }}
.chart {{ min-height: 360px; }}
.note {{ color: #666; font-size: 0.9em; }}
"""


@dataclass
class Chart:
    """One chart of a video's section: a title, a Plotly figure, and the kind it shows."""

    key: str  # density, activity, commands, terms, users, changes
    title: str
    figure: object  # plotly.graph_objects.Figure


def write_report(
    db: str | Engine | Connection,
    video_ids: Sequence[str],
    out: TextIO,
    *,
    tz: str = JAPAN,
    bin: str = "10s",
    terms: int = 20,
    tokenizer: str = "auto",
    progress: Callable[[str], None] | None = None,
    top: int | None = None,
) -> None:
    """Write the report of ``video_ids`` to ``out`` (a text stream) as one HTML document, part
    by part as it is made: the head and the summary table (read from the database first), then
    each video's section as soon as its charts are drawn. So a report of many videos never
    holds more than one video's charts. With ``top``, only the ``top`` busiest videos get a
    section (the table lists them all). ``progress(video_id)`` is told as each video's charts
    start."""
    if not video_ids:
        raise BadInput("give at least one video for the report")
    if top is not None and top < 1:
        raise BadInput("--top must be at least 1")
    _plotly()  # the report extra missing: said before anything is read
    title = f"nico report: {video_ids[0]}" if len(video_ids) == 1 else "nico report"
    title += "" if len(video_ids) == 1 else f" ({len(video_ids)} videos)"
    with _connection(db) as connection:
        rows = [video_summary(connection, video_id, tz=tz) for video_id in video_ids]
        busiest = sorted(rows, key=lambda row: -row["comments"])  # stable: ties keep the order
        charted = {row["video_id"] for row in busiest[: len(rows) if top is None else top]}
        note = sections_note(len(charted), len(rows))
        write_page_head(out, title)
        out.write(
            ("" if note is None else f'<p class="note">{note}</p>\n')
            + f"{_summary_table(rows, charted)}\n"
        )
        for index, row in enumerate(row for row in rows if row["video_id"] in charted):
            if progress is not None:
                progress(row["video_id"])
            charts = video_charts(
                connection, row["video_id"], tz=tz, bin=bin, terms=terms, tokenizer=tokenizer
            )
            out.write(("\n" if index else "") + _section(row, charts))
    out.write("\n</body>\n</html>\n")


def write_page_head(out: TextIO, title: str, style: str = "") -> None:
    """The page up to its heading: the styles (`PAGE_STYLE`, then ``style``) and plotly.js
    inline, so the file opens offline."""
    out.write(
        '<!DOCTYPE html>\n<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<style>{PAGE_STYLE}{style}</style>\n"
        '<script type="text/javascript">'
    )
    out.write(_plotly_js())
    out.write(f"</script>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n")


def build_report(db: str | Engine | Connection, video_ids: Sequence[str], **options) -> str:
    """The page `write_report` writes, as one str (``options``: those of `write_report`)."""
    page = io.StringIO()
    write_report(db, video_ids, page, **options)
    return page.getvalue()


def video_summary(connection: Connection, video_id: str, *, tz: str = JAPAN) -> dict:
    """One video's row of the summary table (plain data), counted by the database: its
    comments (every fork, deleted ones included), the deleted ones, the
    viewers (users of the comments not deleted, owner's left out), the first and last day
    posted (in ``tz``), its length, and how many comments re-crawls saw change."""
    video = connection.execute(
        select(videos.c.title, videos.c.duration_s).where(videos.c.video_id == video_id)
    ).one_or_none()
    if video is None:
        raise BadInput(f"{video_id} is not in the database")
    posted = posted_unix(connection.dialect.name)
    viewer = (comments.c.fork != "owner") & ~comments.c.is_deleted
    stored, deleted, users, first, last = connection.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((comments.c.is_deleted, 1), else_=0)), 0),
            func.count(func.distinct(case((viewer, comments.c.user_id)))),
            func.min(posted),
            func.max(posted),
        ).where(comments.c.video_id == video_id)
    ).one()
    changes_seen = connection.execute(
        select(func.count(func.distinct(comment_observations.c.comment_row_id)))
        .select_from(comment_observations)
        .join(comments, comments.c.id == comment_observations.c.comment_row_id)
        .where(comments.c.video_id == video_id)
    ).scalar()
    title, duration = video
    return {
        "video_id": video_id,
        "title": title,
        "comments": int(stored),
        "deleted": int(deleted),
        "users": int(users),
        "first_posted_at": _day_of(first, tz),
        "last_posted_at": _day_of(last, tz),
        "length": None if duration is None else video_clock(int(duration)),
        "changes_seen": int(changes_seen or 0),
    }


def video_charts(
    connection: Connection,
    video_id: str,
    *,
    tz: str = JAPAN,
    bin: str = "10s",
    terms: int = 20,
    tokenizer: str = "auto",
) -> list[Chart]:
    """One video's charts."""
    viewers = load_comments(connection, video_id, tz=tz)  # every fork but the owner's, not deleted
    videos_frame = load_videos(connection, video_id)
    if videos_frame.empty:
        raise BadInput(f"{video_id} is not in the database")
    duration = videos_frame["duration_s"].iloc[0]
    length = None if pd.isna(duration) else int(duration)
    span = vpos_span(videos_frame.iloc[0], length)
    observations = load_observations(connection, video_id, tz=tz)
    charts = viewer_charts(
        viewers, bin=bin, span=span, terms=terms, tokenizer=tokenizer, axis=timeline(video_id)
    )
    if not observations.empty:
        charts.append(_changes_chart(observations))
    return charts


def viewer_charts(
    viewers,
    *,
    bin: str,
    span: int | None,
    terms: int,
    tokenizer: str,
    axis: str = "video time",
) -> list:
    """The charts of viewers' comments (a frame, or a dataset's `CommentScan`): density over
    ``span`` seconds of ``axis`` (`compute.timeline`; None: to the last comment), posting
    activity, commands, top terms, users' share."""
    return [
        _density_chart(viewers, bin, span, axis),
        _activity_chart(viewers),
        _commands_chart(viewers),
        _terms_chart(viewers, terms, tokenizer),
        _users_chart(viewers),
    ]


# --- the charts ----------------------------------------------------------------------------------


def _density_chart(viewers: pd.DataFrame, bin: str, length: int | None, axis: str) -> Chart:
    go = _plotly()
    frame = density(viewers, bin=bin, length=length)
    seconds = frame.index.total_seconds()
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=seconds,
            y=frame["comments"],
            name="comments",
            marker_color=PALETTE["main"],
            customdata=[video_clock(s) for s in seconds],
            hovertemplate="%{customdata}: %{y} comments<extra></extra>",
        )
    )
    peaks = highlights(viewers, n=5, bin=bin, length=length)
    if len(peaks):
        starts = peaks["start"].dt.total_seconds()
        ends = peaks["end"].dt.total_seconds()
        hover = []
        for start, end, count in zip(starts, ends, peaks["comments"], strict=True):
            top = top_texts_between(viewers, start, end)
            lines = "<br>".join(f"{html.escape(str(t))} ×{n}" for t, n in top)
            hover.append(
                f"<b>{video_clock(start)}–{video_clock(end)}</b>: {int(count)} comments<br>{lines}"
            )
        # On top of their bars (the highlight's own count caps each user per bin).
        heights = frame["comments"].reindex(peaks["start"].to_numpy()).fillna(0).to_numpy()
        figure.add_trace(
            go.Scatter(
                x=starts,
                y=heights,
                mode="markers+text",
                name="highlights",
                text=[f"#{rank}" for rank in range(1, len(peaks) + 1)],
                textposition="top center",
                marker={"symbol": "star", "size": 14, "color": "#d62728"},
                hovertext=hover,
                hoverinfo="text",
            )
        )
    end = int(seconds.max()) if len(seconds) else 0
    every = next((s for s in TICK_STEPS if end / s <= 12), TICK_STEPS[-1])
    ticks = list(range(0, end + 1, every))
    figure.update_layout(
        xaxis={
            "title": axis,
            "tickvals": ticks,
            "ticktext": [video_clock(t) for t in ticks],
        },
        yaxis={"title": f"comments per {bin}"},
        bargap=0,
    )
    return Chart("density", f"Comment density over {axis}, highlights marked", figure)


def _activity_chart(viewers: pd.DataFrame) -> Chart:
    go = _plotly()
    freq, unit, shown = activity_period(posting_span(viewers))
    days = activity(viewers, freq=freq)
    figure = go.Figure(
        go.Scatter(
            x=days.index,
            y=days["comments"],
            # One period alone is a point: a line through it would draw nothing.
            mode="lines" if len(days) > 1 else "markers",
            line={"shape": "hv", "color": PALETTE["main"]},
            name=f"comments per {unit}",
            hovertemplate=f"%{{x|{shown}}}: %{{y}} comments<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"title": f"{unit} posted", "rangeslider": {"visible": True}, "type": "date"},
        yaxis={"title": f"comments per {unit}"},
    )
    return Chart("activity", f"Posting activity per {unit} (drag to zoom)", figure)


def _commands_chart(viewers: pd.DataFrame) -> Chart:
    from plotly.subplots import make_subplots

    go = _plotly()
    summary = commands_summary(viewers)
    kinds = [k for k in ("position", "size", "color", "anonymity") if (summary["kind"] == k).any()]
    figure = make_subplots(rows=1, cols=max(len(kinds), 1), subplot_titles=kinds or ["commands"])
    for column, kind in enumerate(kinds, 1):
        part = summary[summary["kind"] == kind]
        values = part["value"].astype(str).tolist()
        colors = [_swatch(v) if kind == "color" else PALETTE["main"] for v in values]
        figure.add_trace(
            go.Bar(
                x=values,
                y=part["share"] * 100,
                marker={"color": colors, "line": {"color": "#444", "width": 1}},
                customdata=part["comments"],
                hovertemplate="%{x}: %{y:.1f}% (%{customdata} comments)<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=column,
        )
    figure.update_yaxes(title_text="% of comments", row=1, col=1)
    return Chart("commands", "Commands and colours", figure)


def _terms_chart(viewers: pd.DataFrame, n: int, tokenizer: str) -> Chart:
    go = _plotly()
    terms = top_terms(viewers, n=n, tokenizer=tokenizer).iloc[::-1]
    figure = go.Figure(
        go.Bar(
            x=terms["comments"],
            y=terms["term"].astype(str),
            orientation="h",
            marker_color=PALETTE["easy"],
            hovertemplate="%{y}: %{x} comments<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"title": "comments using it"}, height=max(360, 22 * len(terms) + 120)
    )
    return Chart("terms", f"Top {n} terms", figure)


def _users_chart(viewers: pd.DataFrame) -> Chart:
    go = _plotly()
    users = user_stats(viewers)
    top = users.head(TOP_USERS)
    labels = [f"#{i} {str(u)[:12]}" for i, u in enumerate(top["user_id"], 1)]
    shares = (top["share"] * 100).tolist()
    rest = 100 - sum(shares)
    if len(users) > TOP_USERS:
        labels.append(f"{len(users) - TOP_USERS:,} others")
        shares.append(rest)
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=shares,
            marker_color=[PALETTE["main"]] * len(top) + ["#bbbbbb"] * (len(labels) - len(top)),
            hovertemplate="%{x}: %{y:.2f}% of comments<extra></extra>",
        )
    )
    figure.update_layout(yaxis={"title": "% of comments"}, xaxis={"tickangle": -45})
    return Chart("users", f"Users' share of comments ({len(users):,} users)", figure)


def _changes_chart(observations: pd.DataFrame) -> Chart:
    """Per moment a re-crawl saw changes: comments newly deleted (or no longer served) and
    comments whose nicoru count moved, with the observed comments' nicoru total."""
    from plotly.subplots import make_subplots

    go = _plotly()
    ordered = observations.sort_values("seen_at", kind="stable")
    previous = ordered.groupby("comment_row_id").shift(1)
    changed = ordered.assign(
        deleted=ordered["is_deleted"] & ~previous["is_deleted"].fillna(True).astype(bool),
        nicoru=(ordered["nicoru_count"].fillna(0) != previous["nicoru_count"].fillna(0))
        & previous["is_deleted"].notna(),
    )
    per_moment = changed.groupby("seen_at")[["deleted", "nicoru"]].sum()
    total = observation_series(observations, "nicoru_count", total=True)
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    for column, name, color in (
        ("deleted", "deleted / no longer served", "#d62728"),
        ("nicoru", "nicoru count changed", "#ff7f0e"),
    ):
        figure.add_trace(
            go.Bar(x=per_moment.index, y=per_moment[column], name=name, marker_color=color)
        )
    figure.add_trace(
        go.Scatter(
            x=total.index,
            y=total["total"],
            name="nicoru total (changed comments)",
            mode="lines+markers",
            line={"shape": "hv", "color": "#9467bd"},
        ),
        secondary_y=True,
    )
    figure.update_layout(barmode="group", xaxis={"title": "seen at", "type": "date"})
    figure.update_yaxes(title_text="comments", secondary_y=False)
    figure.update_yaxes(title_text="nicoru", secondary_y=True)
    return Chart("changes", "Deletions and nicoru changes seen by re-crawls", figure)


def posting_span(viewers) -> pd.Timedelta:
    """The time from the first comment posted to the last (of a frame, or of a dataset's
    `CommentScan`); zero without comments."""
    if isinstance(viewers, CommentScan):
        ((first, last),) = viewers.rows("SELECT min(posted_at), max(posted_at) FROM {rows}")
    else:
        first, last = viewers["posted_at"].min(), viewers["posted_at"].max()
    if first is None or pd.isna(first):
        return pd.Timedelta(0)
    return pd.Timestamp(last) - pd.Timestamp(first)


def activity_period(span: pd.Timedelta) -> tuple[str, str, str]:
    """(pandas frequency, its name, a d3 time format) for posting activity: per day, unless the
    comments were all posted within a few days (``span``: `posting_span`; a live program, a
    short burst), then per hour or per minute, so the chart has more than a point or two. The
    span of the posts themselves, not of the days they fall on: an hour across midnight is
    an hour."""
    if span >= pd.Timedelta(days=ACTIVITY_DAYS):
        return "1D", "day", "%Y-%m-%d"
    if span >= pd.Timedelta(days=1):
        return "1h", "hour", "%Y-%m-%d %H:00"
    return "1min", "minute", "%Y-%m-%d %H:%M"


def top_texts_between(viewers, start_s: float, end_s: float) -> list[tuple[str, int]]:
    """The `TOP_COMMENTS` most frequent texts posted at video times [start_s, end_s): of a
    frame, or of a dataset's `CommentScan` (DuckDB counts)."""
    if isinstance(viewers, CommentScan):
        return [
            (text, int(n))
            for text, n in viewers.rows(
                "SELECT content, count(*) AS n FROM {rows} WHERE content IS NOT NULL "
                f"AND vpos_ms >= {int(start_s * 1000)} AND vpos_ms < {int(end_s * 1000)} "
                f"GROUP BY content ORDER BY n DESC, content LIMIT {TOP_COMMENTS}"
            )
        ]
    inside = viewers[(viewers["vpos_ms"] >= start_s * 1000) & (viewers["vpos_ms"] < end_s * 1000)]
    return [(t, int(n)) for t, n in inside["content"].value_counts().head(TOP_COMMENTS).items()]


# --- the page ------------------------------------------------------------------------------------


def _section(row: dict, charts: list[Chart]) -> str:
    video_id = row["video_id"]
    heading = html.escape(video_id + (f" — {row['title']}" if row["title"] else ""))
    parts = [f'<section class="video" id="{_anchor(video_id)}">', f"<h2>{heading}</h2>"]
    if not row["comments"]:
        parts.append('<p class="note">No comments stored.</p>')
    for chart in charts:
        chart.figure.update_layout(
            font={"family": FONT_FAMILY},
            margin={"t": 40, "r": 20, "b": 60, "l": 60},
            template="plotly_white",
        )
        div = chart.figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            config=CHART_CONFIG,
            div_id=f"{_anchor(video_id)}-{chart.key}",
        )
        parts.append(
            f'<h3>{html.escape(chart.title)}</h3>\n<div class="chart" data-chart="{chart.key}">'
            f"{div}</div>"
        )
    parts.append('<p><a href="#top">↑ summary</a></p></section>')
    return "\n".join(parts)


def sections_note(charted: int, listed: int) -> str | None:
    """What a page says when only the ``charted`` busiest of its ``listed`` videos have a
    section (None when they all do)."""
    if charted >= listed:
        return None
    which = "The busiest video has" if charted == 1 else f"The {charted:,} busiest have"
    return f"{which} a section (--top {charted:,}); the others are listed without one."


def _summary_table(rows: list[dict], charted: set[str]) -> str:
    head = (
        "<tr><th>video</th><th>title</th><th>comments</th><th>deleted</th><th>users</th>"
        "<th>length</th><th>first posted</th><th>last posted</th><th>changes seen</th></tr>"
    )
    body = []
    for row in rows:
        video_id = html.escape(row["video_id"])
        cells = [
            f'<a href="#{_anchor(row["video_id"])}">{video_id}</a>'
            if row["video_id"] in charted
            else video_id,
            html.escape(row["title"] or ""),
            f"{row['comments']:,}",
            f"{row['deleted']:,}",
            f"{row['users']:,}",
            html.escape(row["length"] or ""),
            html.escape(row["first_posted_at"] or ""),
            html.escape(row["last_posted_at"] or ""),
            f"{row['changes_seen']:,}",
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="summary" id="top">\n{head}\n' + "\n".join(body) + "\n</table>"


def _anchor(video_id: str) -> str:
    return "video-" + "".join(c if c.isalnum() else "-" for c in video_id)


def _day_of(unix_seconds: int | None, tz: str) -> str | None:
    """The day (ISO 8601, in ``tz``) of a moment in Unix seconds."""
    if unix_seconds is None:
        return None
    return pd.Timestamp(int(unix_seconds), unit="s", tz="UTC").tz_convert(tz).date().isoformat()


def _swatch(value: str) -> str:
    """A CSS colour for a colour command's value (``custom`` is grey)."""
    if value == "custom":
        return "#999999"
    code = color_code(value) if value in COLORS else None
    return "#999999" if code is None else f"#{code:06x}"


def _plotly():
    """plotly's graph objects, or a `BadInput` naming the extra to install."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise BadInput(
            "nico report draws with Plotly: pip install 'nicocomments[report]'"
        ) from None
    return go


def _plotly_js() -> str:
    """plotly.js itself (about 4 MB), inlined once per page."""
    _plotly()
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()
