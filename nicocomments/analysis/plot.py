"""The figure of `nico analyze --plot`: density over video time with the highlights marked,
and posting activity over calendar time (matplotlib, headless).

Font strategy: every text on the figure is ASCII (titles, axis labels, highlight numbers; the
comments themselves are not drawn), so it renders with matplotlib's bundled DejaVu Sans on any
machine, with no Japanese font to install and no tofu boxes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nicocomments.errors import missing_extra
from nicocomments.records import video_clock


def plot_summary(
    video_id: str,
    density_frame: pd.DataFrame,
    highlight_frame: pd.DataFrame,
    activity_frame: pd.DataFrame,
    path: Path,
) -> Path:
    """Write a two-panel PNG (or whatever ``path``'s suffix says: .svg, .pdf) and return it."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib import pyplot
    except ImportError:
        raise missing_extra("--plot", "matplotlib", "plot") from None
    figure, (top, bottom) = pyplot.subplots(2, 1, figsize=(11, 7), constrained_layout=True)
    try:
        # One more edge than bins, so the last bin is drawn as wide as the others.
        edges = density_frame.index.total_seconds().to_numpy() / 60
        if len(edges):
            width = edges[1] - edges[0] if len(edges) > 1 else 1 / 6
            edges = [*list(edges), edges[-1] + width]
            rates = [*list(density_frame["per_minute"]), density_frame["per_minute"].iloc[-1]]
            top.fill_between(edges, rates, step="post", alpha=0.35)
            top.step(edges, rates, where="post", linewidth=0.9)
        for rank, row in enumerate(highlight_frame.itertuples(), 1):
            at = row.start.total_seconds() / 60
            top.axvline(at, color="tab:red", linewidth=0.8, alpha=0.7)
            top.annotate(
                f"#{rank} {video_clock(row.start.total_seconds())}",
                (at, top.get_ylim()[1]),
                xytext=(3, -12),
                textcoords="offset points",
                color="tab:red",
                fontsize=8,
            )
        top.set_title(f"{video_id}: comments over video time (highlights in red)")
        top.set_xlabel("video time (minutes)")
        top.set_ylabel("comments per minute")
        top.margins(x=0)
        _activity_panel(bottom, activity_frame)
        figure.savefig(path, dpi=120)
    finally:
        pyplot.close(figure)
    return path


def _activity_panel(axis, activity_frame: pd.DataFrame) -> None:
    """Comments per period on a log scale (a history spans minutes of burst and years of tail),
    with the running share of all comments on a second axis: the burst after upload and the
    decay read at a glance whatever the span."""
    axis.set_xlabel(f"posting date ({_zone(activity_frame)})")
    if not len(activity_frame):
        axis.set_title("comments by posting date")
        return
    counts = activity_frame["comments"]
    span = counts.index[-1] - counts.index[0]
    if span > pd.Timedelta(days=730):
        rule, label = "MS", "month"
    elif span > pd.Timedelta(days=120):
        rule, label = "W", "week"
    else:
        rule, label = "D", "day"
    per_period = counts.resample(rule).sum() if rule != "D" else counts
    axis.fill_between(per_period.index, per_period.to_numpy(), step="post", alpha=0.35)
    axis.step(per_period.index, per_period.to_numpy(), where="post", linewidth=0.9)
    axis.set_yscale("symlog", linthresh=1)
    axis.set_ylabel(f"comments per {label} (log)")
    axis.set_title(f"comments by posting date (per {label}), and the share posted so far")
    share = axis.twinx()
    share.plot(counts.index, counts.cumsum() / counts.sum() * 100, color="tab:orange")
    share.set_ylim(0, 100)
    share.set_ylabel("% of all comments", color="tab:orange")
    axis.tick_params(axis="x", labelrotation=30)
    axis.margins(x=0)


def _zone(frame: pd.DataFrame) -> str:
    tz = getattr(frame.index, "tz", None)
    return str(tz) if tz is not None else "UTC"
