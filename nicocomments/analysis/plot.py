"""The figure of `nico analyze --plot`: density over video time with the highlights marked,
and posting activity over calendar time (matplotlib, headless).

Font strategy: every text on the figure is ASCII (titles, axis labels, highlight numbers; the
comments themselves are not drawn), so it renders with matplotlib's bundled DejaVu Sans on any
machine, with no Japanese font to install and no tofu boxes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nicocomments.errors import BadInput


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
        raise BadInput("--plot needs matplotlib: pip install 'nicocomments[plot]'") from None
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
                f"#{rank} {_clock(row.start)}",
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
        if len(activity_frame):
            bottom.bar(activity_frame.index, activity_frame["comments"], width=0.9, align="edge")
        bottom.set_title("comments by posting date")
        bottom.set_ylabel("comments")
        bottom.set_xlabel(f"posting date ({_zone(activity_frame)})")
        bottom.tick_params(axis="x", labelrotation=30)
        figure.savefig(path, dpi=120)
    finally:
        pyplot.close(figure)
    return path


def _clock(value: pd.Timedelta) -> str:
    seconds = int(value.total_seconds())
    return f"{seconds // 60}:{seconds % 60:02d}"


def _zone(frame: pd.DataFrame) -> str:
    tz = getattr(frame.index, "tz", None)
    return str(tz) if tz is not None else "UTC"
