"""One video summarised: what `nico analyze` shows (as a table, CSV or JSON) and draws.

`summarize_video` loads a video's comments and computes everything in one go; the result's
``summary`` is plain data (numbers, strings, lists and dicts: what ``--format json`` prints),
and its frames are what `analysis.plot.plot_summary` draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine

from nicocomments.analysis.compute import (
    activity,
    commands_summary,
    density,
    highlights,
    outside_video,
    vpos_span,
)
from nicocomments.analysis.load import JAPAN, load_comments, load_videos
from nicocomments.analysis.scan import (
    EVERY_FORK,
    CommentScan,
    facts,
    is_dataset,
    scan_comments,
)
from nicocomments.analysis.terms import top_terms
from nicocomments.ids import is_program_id
from nicocomments.records import LIVE_FORK, video_clock


@dataclass
class VideoSummary:
    summary: dict  # the figures, as plain data
    length: int | None  # the video's length in seconds, when known
    density: pd.DataFrame  # comments per bin of video time (viewers' comments)
    highlights: pd.DataFrame
    activity: pd.DataFrame  # comments per day of posting


def summarize_video(
    db: str | Engine | Connection | CommentScan,
    video_id: str,
    *,
    terms: int = 20,
    top: int = 5,
    bin: str = "10s",
    tz: str = JAPAN,
    tokenizer: str = "auto",
) -> VideoSummary:
    """How many comments per fork, who posted, when (first, last, busiest day), the ``top``
    highlights with their video times, the commands used and the ``terms`` top terms.

    Owner and deleted comments are counted but left out of highlights, terms and users.
    Density and highlights keep to the video's length (comments outside it are counted apart)."""
    if isinstance(db, CommentScan):
        db = db.directory
    if is_dataset(db):
        # A dataset: DuckDB counts; nothing is loaded but the groups.
        everything = scan_comments(db, video_id, forks=EVERY_FORK, include_deleted=True, tz=tz)
        viewers = everything.but(forks=None, include_deleted=False)
        counted = facts(everything)
        first, last = (
            None if t is None else pd.Timestamp(t).tz_convert(tz)
            for t in (counted["first"], counted["last"])
        )
    else:
        everything = load_comments(db, video_id, forks=EVERY_FORK, include_deleted=True, tz=tz)
        viewers = everything[(everything["fork"] != "owner") & ~everything["is_deleted"]]
        forks = everything.groupby("fork", observed=False).size()
        counted = {
            "comments": len(everything),
            "by_fork": {str(k): int(v) for k, v in forks.items()},
            "deleted": int(everything["is_deleted"].sum()),
            "users": int(viewers["user_id"].nunique()),
        }
        first, last = everything["posted_at"].min(), everything["posted_at"].max()
    videos = load_videos(db, video_id)
    duration = videos["duration_s"]
    length = None if duration.empty or pd.isna(duration.iloc[0]) else int(duration.iloc[0])
    if not videos.empty:  # a live program: from vpos 0 to its end, as the report draws it
        length = vpos_span(videos.iloc[0], length)
    peaks = highlights(viewers, n=top, bin=bin, length=length)
    days = activity(viewers, freq="1D")
    busiest = None
    if len(days):
        day = days["comments"].idxmax()
        busiest = {"date": day.date().isoformat(), "comments": int(days["comments"].max())}
    summary = {
        "video_id": video_id,
        "comments": int(counted["comments"]),
        # A video's threads, or a live program's one: the other kind is always empty.
        "by_fork": {
            str(k): int(v)
            for k, v in counted["by_fork"].items()
            if (k == LIVE_FORK) == is_program_id(video_id)
        },
        "deleted": int(counted["deleted"]),
        "users": int(counted["users"]),
        "time_zone": tz,
        "first_posted_at": _iso(first),
        "last_posted_at": _iso(last),
        "busiest_day": busiest,
        "video_length": None if length is None else video_clock(length),
        "outside_video": {k: int(v) for k, v in outside_video(viewers, length).items()},
        "highlights": [
            {
                "rank": rank,
                "start": video_clock(row.start.total_seconds()),
                "end": video_clock(row.end.total_seconds()),
                "comments": int(row.comments),
                "baseline": float(row.baseline),
                "score": round(float(row.score), 2),
                "top_comment": str(row.top_comment),
            }
            for rank, row in enumerate(peaks.itertuples(), 1)
        ],
        "commands": [
            {"kind": r.kind, "value": r.value, "comments": int(r.comments), "share": r.share}
            for r in commands_summary(viewers).itertuples()
        ],
        "top_terms": [
            {"term": r.term, "comments": int(r.comments), "share": r.share}
            for r in top_terms(viewers, n=terms, tokenizer=tokenizer).itertuples()
        ],
    }
    return VideoSummary(
        summary=summary,
        length=length,
        density=density(viewers, bin=bin, length=length),
        highlights=peaks,
        activity=days,
    )


def _iso(value) -> str | None:
    return None if value is None or value != value else value.isoformat()
