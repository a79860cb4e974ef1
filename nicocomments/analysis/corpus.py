"""Questions about many videos at once (``nico analyze --dataset DIR --all``): comments per
month over the years, the busiest videos, the most common comments, each busy video's
highlights. Each takes a frame of `load_comments` or, for a corpus of billions, a
`CommentScan` of a dataset (DuckDB groups; the frames are the same)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from nicocomments.analysis import scan
from nicocomments.analysis.compute import MIN_SCORE, highlights, no_highlights
from nicocomments.analysis.load import STRING
from nicocomments.analysis.scan import CommentScan


def comments_per_month(df: pd.DataFrame | CommentScan) -> pd.DataFrame:
    """Comments per month of posting (months of the zone of ``posted_at``, or of the scan's
    ``tz``), months without comments left out: index ``month`` (its first moment), column
    ``comments`` (int64)."""
    if isinstance(df, CommentScan):
        table = scan.monthly_counts(df).to_pandas()
        months = pd.to_datetime(table["month"]).dt.tz_localize(df.tz)
        counts = table["comments"].to_numpy(dtype="int64")
        dtype = pd.DatetimeTZDtype("ns", df.tz)
    else:
        dtype = df["posted_at"].dtype
        local = df["posted_at"].dt.tz_localize(None)
        grouped = local.dt.to_period("M").value_counts().sort_index()
        months = grouped.index.to_timestamp().tz_localize(dtype.tz)
        counts = grouped.to_numpy(dtype="int64")
    index = pd.DatetimeIndex(list(months), dtype=dtype).rename("month")  # no freq: gaps
    return pd.DataFrame({"comments": counts}, index=index)


def busiest_videos(df: pd.DataFrame | CommentScan, n: int = 10) -> pd.DataFrame:
    """The ``n`` videos with the most comments: ``video_id``, ``comments`` (int64),
    ``first_posted_at``, ``last_posted_at``; ties by video id."""
    if isinstance(df, CommentScan):
        table = scan.video_counts(df, n).to_pandas()
        dtype = pd.DatetimeTZDtype("ns", df.tz)
        for column in ("first_posted_at", "last_posted_at"):
            table[column] = pd.to_datetime(table[column], utc=True).dt.tz_convert(df.tz)
    else:
        dtype = df["posted_at"].dtype
        grouped = df.groupby(df["video_id"].astype(str), sort=False)["posted_at"]
        table = (
            pd.DataFrame(
                {
                    "comments": grouped.size(),
                    "first_posted_at": grouped.min(),
                    "last_posted_at": grouped.max(),
                }
            )
            .rename_axis("video_id")
            .reset_index()
        )
        table = table.sort_values(["comments", "video_id"], ascending=[False, True]).head(n)
    return pd.DataFrame(
        {
            "video_id": table["video_id"].astype(STRING).to_numpy(),
            "comments": table["comments"].to_numpy(dtype="int64"),
            "first_posted_at": table["first_posted_at"].astype(dtype).to_numpy(),
            "last_posted_at": table["last_posted_at"].astype(dtype).to_numpy(),
        }
    ).astype({"video_id": STRING, "first_posted_at": dtype, "last_posted_at": dtype})


def common_comments(df: pd.DataFrame | CommentScan, n: int = 20) -> pd.DataFrame:
    """The ``n`` most posted texts (deleted comments left out): ``content``, ``comments``
    (int64) and in how many ``videos`` (int64); ties in text order."""
    if isinstance(df, CommentScan):
        table = scan.common_texts(df, n).to_pandas()
    else:
        data = df[~df["is_deleted"]]
        grouped = data.groupby(data["content"].astype(str), sort=False)
        table = (
            pd.DataFrame({"comments": grouped.size(), "videos": grouped["video_id"].nunique()})
            .rename_axis("content")
            .reset_index()
        )
        table = table.sort_values(["comments", "content"], ascending=[False, True]).head(n)
    return pd.DataFrame(
        {
            "content": pd.array(table["content"].tolist(), dtype=STRING),
            "comments": table["comments"].to_numpy(dtype="int64"),
            "videos": table["videos"].to_numpy(dtype="int64"),
        }
    )


def video_highlights(
    df: pd.DataFrame | CommentScan,
    videos: int = 5,
    n: int = 3,
    *,
    bin: str = "10s",
    min_score: float = MIN_SCORE,
) -> pd.DataFrame:
    """`highlights` (``n`` each) of the ``videos`` busiest videos, busiest first: the columns
    of `highlights` after ``video_id`` and ``rank``. No video length is known in a dataset:
    each video's bins run to its last comment."""
    frames = []
    for video_id in busiest_videos(df, videos)["video_id"]:
        if isinstance(df, CommentScan):
            part = df.but(video_id=str(video_id))
        else:
            part = df[df["video_id"] == video_id]
        peaks = highlights(part, n=n, bin=bin, min_score=min_score)
        peaks.insert(0, "rank", range(1, len(peaks) + 1))
        peaks.insert(0, "video_id", pd.array([str(video_id)] * len(peaks), dtype=STRING))
        frames.append(peaks)
    if not frames:
        return _empty_video_highlights()
    return pd.concat(frames, ignore_index=True).astype({"rank": "int64"})


def _empty_video_highlights() -> pd.DataFrame:
    frame = no_highlights()
    frame.insert(0, "rank", pd.Series([], dtype="int64"))
    frame.insert(0, "video_id", pd.Series([], dtype=STRING))
    return frame


@dataclass
class CorpusSummary:
    months: pd.DataFrame
    videos: pd.DataFrame
    comments: pd.DataFrame
    highlights: pd.DataFrame


def summarize_corpus(
    df: pd.DataFrame | CommentScan, *, top: int = 10, texts: int = 20, bin: str = "10s"
) -> CorpusSummary:
    """All of `nico analyze --all`: months, the ``top`` busiest videos, the ``texts`` most
    common comments, and three highlights of each of the five busiest videos."""
    return CorpusSummary(
        months=comments_per_month(df),
        videos=busiest_videos(df, top),
        comments=common_comments(df, texts),
        highlights=video_highlights(df, min(top, 5), 3, bin=bin),
    )
