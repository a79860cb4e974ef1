"""Comments as pandas DataFrames, and what researchers compute from them.

The only part of nicocomments that imports pandas. Loading (`load_comments`, `load_threads`,
`load_runs`) gives frames with the documented dtypes of `COMMENT_DTYPES`, `THREAD_DTYPES` and
`RUN_DTYPES`; the other functions take such a frame and return a new one::

    from nicocomments import analysis as na

    df = na.load_comments("nico.db", "sm9", tz=na.JAPAN)
    length = na.load_videos("nico.db", "sm9")["duration_s"].iloc[0]
    na.density(df, bin="10s", length=length)    # comments per 10 s of video
    na.highlights(df, n=5, length=length)       # the peaks, robust to floods
    na.outside_video(df, length)                # comments before 0:00 or past the end
    na.activity(df, freq="1D")       # comments per day since upload
    na.commands_summary(df)          # colours, positions, sizes, 184
    na.top_terms(df, n=50)           # words (MeCab with the 'ja' extra, else n-grams)
    na.user_stats(df)                # per poster: volume, copy-paste, flooding
    na.summarize_video("nico.db", "sm9").summary    # all of `nico analyze`, as plain data
    na.load_observations("nico.db", "sm9")          # what re-crawls saw change
    na.observation_series(obs, "nicoru_count")      # nicoru counts over time
    na.diff_video("nico.db", "sm9", runs=(1, 3))    # `nico diff`, as frames

A Parquet dataset (``nico import --to DIR``) loads the same way (``load_comments("DIR",
"sm9")``), and `scan_comments` hands every function above a lazy selection instead of a frame,
so DuckDB does the grouping over any number of comments::

    corpus = na.scan_comments("DIR", tz=na.JAPAN)
    na.comments_per_month(corpus)    # over the years
    na.busiest_videos(corpus, 10)
    na.common_comments(corpus, 20)
    na.video_highlights(corpus, videos=5)
"""

from nicocomments.analysis.changes import (
    CHANGE_COLUMNS,
    OBSERVATION_DTYPES,
    Changes,
    diff_video,
    load_observations,
    observation_series,
)
from nicocomments.analysis.compute import (
    activity,
    bin_milliseconds,
    commands_summary,
    density,
    highlights,
    length_milliseconds,
    outside_video,
    user_stats,
)
from nicocomments.analysis.corpus import (
    CorpusSummary,
    busiest_videos,
    comments_per_month,
    common_comments,
    summarize_corpus,
    video_highlights,
)
from nicocomments.analysis.load import (
    COMMENT_DTYPES,
    FORK_DTYPE,
    JAPAN,
    RUN_DTYPES,
    THREAD_DTYPES,
    VIDEO_DTYPES,
    load_comments,
    load_runs,
    load_threads,
    load_videos,
)
from nicocomments.analysis.scan import CommentScan, scan_comments
from nicocomments.analysis.summary import VideoSummary, summarize_video
from nicocomments.analysis.terms import make_tokenizer, normalize, top_terms
from nicocomments.records import CHANGE_KINDS

__all__ = [
    "CHANGE_COLUMNS",
    "CHANGE_KINDS",
    "COMMENT_DTYPES",
    "FORK_DTYPE",
    "JAPAN",
    "OBSERVATION_DTYPES",
    "RUN_DTYPES",
    "THREAD_DTYPES",
    "VIDEO_DTYPES",
    "Changes",
    "CommentScan",
    "CorpusSummary",
    "VideoSummary",
    "activity",
    "bin_milliseconds",
    "busiest_videos",
    "commands_summary",
    "comments_per_month",
    "common_comments",
    "density",
    "diff_video",
    "highlights",
    "length_milliseconds",
    "load_comments",
    "load_observations",
    "load_runs",
    "load_threads",
    "load_videos",
    "make_tokenizer",
    "normalize",
    "observation_series",
    "outside_video",
    "scan_comments",
    "summarize_corpus",
    "summarize_video",
    "top_terms",
    "user_stats",
    "video_highlights",
]
