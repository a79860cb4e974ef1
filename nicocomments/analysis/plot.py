"""The figure of `nico analyze --plot`: density over video time with the highlights marked,
and posting activity over calendar time (matplotlib, headless). The notebook draws its panels
with the same two functions, `density_panel` and `activity_panel`.

Font strategy: every text on the figure is ASCII (titles, axis labels, highlight numbers; the
comments themselves are not drawn), so it renders with matplotlib's bundled DejaVu Sans on any
machine, with no Japanese font to install and no tofu boxes.

Periods are drawn as steps from where they start to where they end: a day, week or month is a
step from its first moment to the next period's, the last one included (a step plot drawn
``where="post"`` would otherwise end at the last period's start, leaving it invisible).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nicocomments.analysis.compute import timeline
from nicocomments.errors import missing_extra
from nicocomments.records import video_clock

LABEL_POINTS = 8  # font size of the highlight marks
LABEL_GAP = 2.0  # points between two marks' boxes


def plot_summary(
    video_id: str,
    density_frame: pd.DataFrame,
    highlight_frame: pd.DataFrame,
    activity_frame: pd.DataFrame,
    path: Path,
    *,
    length: float | None = None,
) -> Path:
    """Write a two-panel PNG (or whatever ``path``'s suffix says: .svg, .pdf) and return it.
    ``length`` is the video's, in seconds, when known (the density panel ends there)."""
    pyplot = _pyplot()
    figure, (top, bottom) = pyplot.subplots(2, 1, figsize=(11, 7), constrained_layout=True)
    try:
        density_panel(
            top,
            density_frame,
            highlight_frame,
            length=length,
            title=video_id,
            axis_name=timeline(video_id),
        )
        activity_panel(bottom, activity_frame)
        figure.savefig(path, dpi=120)
    finally:
        pyplot.close(figure)
    return path


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib import pyplot
    except ImportError:
        raise missing_extra("--plot", "matplotlib", "plot") from None
    return pyplot


def density_panel(
    axis,
    density_frame: pd.DataFrame,
    highlight_frame: pd.DataFrame | None = None,
    *,
    length: float | None = None,
    title: str = "",
    axis_name: str = "video time",
) -> None:
    """Comments per minute over ``axis_name`` (`compute.timeline`), from `density`, each bin a
    step as wide as it is (the last one ends with the video, ``length`` seconds, when known),
    the highlights as red
    lines with ``#rank m:ss`` marks stacked so that none covers another."""
    starts = (density_frame.index.total_seconds() / 60).tolist()
    if starts:
        width = starts[1] - starts[0] if len(starts) > 1 else 1 / 6
        end = starts[-1] + width
        if length is not None and starts[-1] < length / 60 < end:
            end = length / 60
        _steps(axis, [*starts, end], density_frame["per_minute"].tolist())
    marked = " (highlights in red)" if highlight_frame is not None else ""
    axis.set_title(f"{title + ': ' if title else ''}comments over {axis_name}{marked}")
    axis.set_xlabel(f"{axis_name} (minutes)")
    axis.set_ylabel("comments per minute")
    axis.margins(x=0)
    axis.set_ylim(bottom=0)
    _mark_highlights(axis, highlight_frame)


def _mark_highlights(axis, highlight_frame: pd.DataFrame) -> None:
    """A red line at each highlight's start, and its mark at the top of the panel; marks that
    would overlap go one row lower, as many rows as it takes."""
    if highlight_frame is None or not len(highlight_frame):
        return
    figure = axis.get_figure()
    renderer = figure.canvas.get_renderer()
    placed = []
    ranked = list(enumerate(highlight_frame["start"], 1))
    for rank, start in sorted(ranked, key=lambda item: item[1]):
        at = start.total_seconds() / 60
        axis.axvline(at, color="tab:red", linewidth=0.8, alpha=0.7)
        row = 0
        while True:
            mark = axis.annotate(
                f"#{rank} {video_clock(start.total_seconds())}",
                (at, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -3 - row * (LABEL_POINTS + LABEL_GAP + 2)),
                textcoords="offset points",
                va="top",
                color="tab:red",
                fontsize=LABEL_POINTS,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "alpha": 0.8, "lw": 0},
            )
            box = mark.get_window_extent(renderer).expanded(1.0, 1.0).padded(LABEL_GAP / 2)
            if not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            mark.remove()
            row += 1


def activity_panel(axis, activity_frame: pd.DataFrame) -> None:
    """Comments per day, week or month of posting (whichever suits the span) on a log scale
    (a history spans minutes of burst and years of tail), with the share of all comments
    posted by the end of each day on a second axis: the burst after upload and the decay read
    at a glance whatever the span."""
    axis.set_xlabel(f"posting date ({_zone(activity_frame)})")
    if not len(activity_frame):
        axis.set_title("comments by posting date")
        axis.set_ylabel("comments")
        return
    counts = activity_frame["comments"]
    span = counts.index[-1] - counts.index[0]
    if span > pd.Timedelta(days=730):
        rule, label = "MS", "month"
    elif span > pd.Timedelta(days=120):
        rule, label = "W-SUN", "week"  # weeks from Sunday, each labelled by its first day
    else:
        rule, label = "D", "day"
    per_period = counts.resample(rule, closed="left", label="left").sum()
    step = pd.tseries.frequencies.to_offset(rule)
    _steps(axis, [*per_period.index, per_period.index[-1] + step], per_period.tolist())
    axis.set_yscale("symlog", linthresh=1)
    axis.set_ylim(bottom=0)
    axis.set_ylabel(f"comments per {label} (log)")
    axis.set_title(f"comments by posting date (per {label}), and the share posted so far")
    share = axis.twinx()
    ends = [counts.index[0], *(counts.index + pd.Timedelta(days=1))]
    shares = [0.0, *(counts.cumsum() / counts.sum() * 100)]
    share.plot(ends, shares, color="tab:orange")
    share.set_ylim(0, 100)
    share.set_ylabel("% of all comments posted by then", color="tab:orange")
    axis.tick_params(axis="x", labelrotation=30)
    axis.margins(x=0)


def _steps(axis, edges: list, values: list) -> None:
    """``values[i]`` drawn from ``edges[i]`` to ``edges[i + 1]`` (one more edge than values)."""
    heights = [*values, values[-1]]
    axis.fill_between(edges, heights, step="post", alpha=0.35)
    axis.step(edges, heights, where="post", linewidth=0.9)


def _zone(frame: pd.DataFrame) -> str:
    tz = getattr(frame.index, "tz", None)
    return str(tz) if tz is not None else "UTC"
