"""`nico report`: one self-contained HTML file of interactive charts, for one video or many.

Charts are Plotly figures (the ``report`` extra). plotly.js is inlined once, in the page's
head, and every figure's data is inlined beside its ``<div>``: the file opens without a network
connection, anywhere. Text renders in the reader's own system fonts (`FONT_FAMILY` names the
usual Japanese ones before the generic family), so nothing is downloaded for Japanese either.

Each video gets a section: comment density over video time with the highlights marked (their
most frequent comments on hover), posting activity per day (zoomable, with a range slider),
commands and colours, top terms, users' share, and, when re-crawls saw changes, deletions and
nicoru changes over time. A summary table on top has one row per video, linking to its section.
`build_report` takes a list of video ids, so a collection or a dataset is one more list.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine

from nicocomments.analysis.changes import load_observations, observation_series
from nicocomments.analysis.compute import (
    activity,
    commands_summary,
    density,
    highlights,
    user_stats,
)
from nicocomments.analysis.load import FORKS, JAPAN, _connection, load_comments, load_videos
from nicocomments.analysis.terms import top_terms
from nicocomments.commands import COLORS, color_code
from nicocomments.errors import BadInput
from nicocomments.records import video_clock

FONT_FAMILY = (
    "system-ui, -apple-system, 'Hiragino Sans', 'Hiragino Kaku Gothic ProN', 'Yu Gothic UI', "
    "'Yu Gothic', Meiryo, 'Noto Sans CJK JP', 'Noto Sans JP', sans-serif"
)
CHART_CONFIG = {"displaylogo": False, "responsive": True}
TOP_COMMENTS = 3  # shown on hover over a highlight
TOP_USERS = 15
TICK_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)  # seconds of video per tick
PALETTE = {"main": "#1f77b4", "owner": "#7f7f7f", "easy": "#2ca02c"}

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


def build_report(
    db: str | Engine | Connection,
    video_ids: Sequence[str],
    *,
    tz: str = JAPAN,
    bin: str = "10s",
    terms: int = 20,
    tokenizer: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> str:
    """The report of ``video_ids`` as one HTML document (a str). ``progress(video_id)`` is
    told as each video starts."""
    if not video_ids:
        raise BadInput("give at least one video for the report")
    plotly_js = _plotly_js()
    sections, rows = [], []
    with _connection(db) as connection:
        for video_id in video_ids:
            if progress is not None:
                progress(video_id)
            row, charts = video_charts(
                connection, video_id, tz=tz, bin=bin, terms=terms, tokenizer=tokenizer
            )
            rows.append(row)
            sections.append(_section(row, charts))
    title = f"nico report: {video_ids[0]}" if len(video_ids) == 1 else "nico report"
    title += "" if len(video_ids) == 1 else f" ({len(video_ids)} videos)"
    return (
        '<!DOCTYPE html>\n<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<style>{PAGE_STYLE}</style>\n"
        f'<script type="text/javascript">{plotly_js}</script>\n</head>\n<body>\n'
        f"<h1>{html.escape(title)}</h1>\n{_summary_table(rows)}\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def video_charts(
    connection: Connection,
    video_id: str,
    *,
    tz: str = JAPAN,
    bin: str = "10s",
    terms: int = 20,
    tokenizer: str = "auto",
) -> tuple[dict, list[Chart]]:
    """One video's summary row (plain data) and its charts."""
    everything = load_comments(connection, video_id, forks=FORKS, include_deleted=True, tz=tz)
    videos = load_videos(connection, video_id)
    if videos.empty:
        raise BadInput(f"{video_id} is not in the database")
    duration = videos["duration_s"].iloc[0]
    length = None if pd.isna(duration) else int(duration)
    viewers = everything[(everything["fork"] != "owner") & ~everything["is_deleted"]]
    observations = load_observations(connection, video_id, tz=tz)
    title = videos["title"].iloc[0]
    row = {
        "video_id": video_id,
        "title": None if pd.isna(title) else str(title),
        "comments": len(everything),
        "deleted": int(everything["is_deleted"].sum()),
        "users": int(viewers["user_id"].nunique()),
        "first_posted_at": _day(everything["posted_at"].min()),
        "last_posted_at": _day(everything["posted_at"].max()),
        "length": None if length is None else video_clock(length),
        "changes_seen": int(observations["comment_row_id"].nunique()),
    }
    charts = [
        _density_chart(viewers, bin, length),
        _activity_chart(viewers),
        _commands_chart(viewers),
        _terms_chart(viewers, terms, tokenizer),
        _users_chart(viewers),
    ]
    if not observations.empty:
        charts.append(_changes_chart(observations))
    return row, charts


# --- the charts ----------------------------------------------------------------------------------


def _density_chart(viewers: pd.DataFrame, bin: str, length: int | None) -> Chart:
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
            inside = viewers[
                (viewers["vpos_ms"] >= start * 1000) & (viewers["vpos_ms"] < end * 1000)
            ]
            top = inside["content"].value_counts().head(TOP_COMMENTS)
            lines = "<br>".join(f"{html.escape(str(t))} ×{n}" for t, n in top.items())
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
            "title": "video time",
            "tickvals": ticks,
            "ticktext": [video_clock(t) for t in ticks],
        },
        yaxis={"title": f"comments per {bin}"},
        bargap=0,
    )
    return Chart("density", "Comment density over video time, highlights marked", figure)


def _activity_chart(viewers: pd.DataFrame) -> Chart:
    go = _plotly()
    days = activity(viewers, freq="1D")
    figure = go.Figure(
        go.Scatter(
            x=days.index,
            y=days["comments"],
            mode="lines",
            line={"shape": "hv", "color": PALETTE["main"]},
            name="comments per day",
            hovertemplate="%{x|%Y-%m-%d}: %{y} comments<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"title": "day posted", "rangeslider": {"visible": True}, "type": "date"},
        yaxis={"title": "comments per day"},
    )
    return Chart("activity", "Posting activity per day (drag to zoom)", figure)


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


def _summary_table(rows: list[dict]) -> str:
    head = (
        "<tr><th>video</th><th>title</th><th>comments</th><th>deleted</th><th>users</th>"
        "<th>length</th><th>first posted</th><th>last posted</th><th>changes seen</th></tr>"
    )
    body = []
    for row in rows:
        cells = [
            f'<a href="#{_anchor(row["video_id"])}">{html.escape(row["video_id"])}</a>',
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


def _day(value) -> str | None:
    return None if value is None or value != value else value.date().isoformat()


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
