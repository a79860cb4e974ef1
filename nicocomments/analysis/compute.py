"""DataFrame → DataFrame: density over video time, highlights, posting activity, commands and
users. Every function takes a frame shaped like `load_comments`'s and never changes it, or a
`CommentScan` of a dataset (`scan_comments`): then DuckDB groups the rows and the result is the
same frame, computed by the same code from the groups."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nicocomments.analysis import scan
from nicocomments.analysis.load import STRING
from nicocomments.analysis.scan import CommentScan
from nicocomments.commands import COLORS, DEFAULTS, POSITIONS, SIZES, color_code
from nicocomments.ids import is_program_id
from nicocomments.limits import shown


def bin_milliseconds(bin: str) -> int:
    """ "10s" → 10000; a ValueError for anything that is not a positive duration."""
    try:
        milliseconds = int(pd.Timedelta(bin) / pd.Timedelta(milliseconds=1))
    except (ValueError, TypeError):
        raise ValueError(f"bin must be a duration such as 10s or 1min, not {shown(bin)}") from None
    if milliseconds <= 0:
        raise ValueError(f"bin must be a positive duration, not {shown(bin)}")
    return milliseconds


MIN_SCORE = 3.5  # Iglewicz & Hoaglin's cut for a robust ("modified") z-score outlier
MIN_SPREAD = 1.0  # comments: counts move in whole comments, so the spread never goes below one


def length_milliseconds(length) -> int | None:
    """A video's length as milliseconds: seconds (a number), a Timedelta, or None/NA (unknown)."""
    if length is None or length is pd.NA or (isinstance(length, float) and np.isnan(length)):
        return None
    if isinstance(length, pd.Timedelta):
        return int(length / pd.Timedelta(milliseconds=1))
    return round(float(length) * 1000)


def _inside(vpos_ms: np.ndarray, length_ms: int | None) -> np.ndarray:
    """Which positions lie in the video: from 0:00 to its end (inclusive), or to no end when the
    length is unknown."""
    inside = vpos_ms >= 0
    if length_ms is not None:
        inside &= vpos_ms <= length_ms
    return inside


def outside_video(df: pd.DataFrame, length=None) -> pd.Series:
    """How many comments of ``df`` lie outside the video, and so outside `density` and
    `highlights`: ``before_start`` (a negative position) and ``after_end`` (past ``length``,
    the video's length in seconds or a Timedelta; 0 when the length is unknown)."""
    length_ms = length_milliseconds(length)
    if isinstance(df, CommentScan):
        before, after = scan.outside_counts(df, length_ms)
        return pd.Series({"before_start": before, "after_end": after}, dtype="int64")
    vpos = df["vpos_ms"].to_numpy(dtype="int64")
    after = int((vpos > length_ms).sum()) if length_ms is not None else 0
    return pd.Series({"before_start": int((vpos < 0).sum()), "after_end": after}, dtype="int64")


def _bins(vpos_ms: np.ndarray, step: int, length_ms: int | None) -> tuple[np.ndarray, int]:
    """(bin of each position inside the video, number of bins): bins of ``step`` from 0:00 to
    the video's end (its last bin may be shorter; the very end belongs to it), or to the last
    comment when the length is unknown."""
    if length_ms is not None:
        count = max(-(-length_ms // step), 1)
    else:
        count = int(vpos_ms.max()) // step + 1 if len(vpos_ms) else 0
    return np.minimum(vpos_ms // step, max(count - 1, 0)), count


def density(df: pd.DataFrame, bin: str = "10s", *, length=None) -> pd.DataFrame:
    """Comments per ``bin`` of video time, indexed by the bin's start (``vpos``, a Timedelta),
    empty bins included: ``comments`` (int64) and ``per_minute`` (float64: the same count as a
    rate per minute of video, comparable across bin sizes).

    The bins cover the video: from 0:00 to ``length`` (its length in seconds, or a Timedelta;
    `load_videos` has it as ``duration_s``), or to the last comment when it is unknown.
    Comments outside the video (before 0:00, past its end: owner scripts, stray positions) are
    left out, so one stray comment cannot stretch the axis; `outside_video` counts them. The
    last bin ends with the video, and its ``per_minute`` is over that shorter time.

    Example::

        >>> density(load_comments("nico-demo.db", "sm9"), bin="30s", length=319).head(3)
                         comments  per_minute
        vpos
        0 days 00:00:00      1536      3072.0
        0 days 00:00:30      1517      3034.0
        0 days 00:01:00      1529      3058.0
    """
    step = bin_milliseconds(bin)
    length_ms = length_milliseconds(length)
    if isinstance(df, CommentScan):
        found, count = scan.bin_counts(df, step, length_ms)
        counts = _dense(found, count)
    else:
        vpos = df["vpos_ms"].to_numpy(dtype="int64")
        vpos = vpos[_inside(vpos, length_ms)]
        bins, count = _bins(vpos, step, length_ms)
        counts = np.bincount(bins, minlength=count).astype("int64")
    starts = np.arange(count, dtype="int64") * step
    widths = np.full(count, step, dtype="int64")
    if length_ms is not None and count:
        widths[-1] = max(length_ms - starts[-1], 1)  # the video ends inside its last bin
    index = pd.TimedeltaIndex(pd.to_timedelta(starts, unit="ms"), name="vpos")
    index = index.astype("timedelta64[ns]")
    return pd.DataFrame({"comments": counts, "per_minute": counts * 60_000 / widths}, index=index)


def _dense(found: dict, count: int) -> np.ndarray:
    """{bin: comments} → comments per bin, 0 where none."""
    counts = np.zeros(count, dtype="int64")
    for position, comments in found.items():
        counts[position] = comments
    return counts


def highlights(
    df: pd.DataFrame,
    n: int = 5,
    *,
    bin: str = "10s",
    per_user: int = 3,
    window: int = 9,
    length=None,
    min_score: float = MIN_SCORE,
) -> pd.DataFrame:
    """The ``n`` moments of the video that drew the most comments, most prominent first.

    Robust against the usual traps: the owner's comments and deleted ones are left out, and so
    are comments outside the video (see `density`: ``length`` is the video's length); each user
    counts at most ``per_user`` times per bin, so one person flooding cannot make a peak; a peak
    is a bin that is a local maximum *and* stands above the rolling median of the ``window``
    bins around it (the ``baseline``), so a video that is busy all the way through has no
    highlights merely for being busy.

    ``prominence`` = comments − baseline. ``score`` = prominence ÷ spread, where the spread is
    1.4826 × the median absolute prominence over the video's bins (a robust standard
    deviation: ``score`` is a robust z-score), but never less than one comment, so that when
    most bins equal their baseline (a quiet video) the score still counts in the same unit
    instead of jumping to raw comments. Only peaks scoring at least ``min_score`` count:
    3.5 by default, the usual cut for a robust z-score (Iglewicz and Hoaglin); fewer than ``n``
    rows, or none, means the video has no more moments that stand out. ``top_comment`` is the
    bin's most frequent text.

    Example::

        >>> peaks = highlights(load_comments("nico-demo.db", "sm9"), n=2, length=319)
        >>> peaks[["start", "end", "comments", "baseline", "score", "top_comment"]]
                    start             end  comments  baseline      score top_comment
        0 0 days 00:04:40 0 days 00:04:50      3074     682.0  92.193251        ここすき
        1 0 days 00:03:40 0 days 00:03:50      3097    1244.0  71.418936         うぽつ
    """
    step = bin_milliseconds(bin)
    length_ms = length_milliseconds(length)
    if isinstance(df, CommentScan):
        found, count = scan.kept_bin_counts(df, step, length_ms, per_user)
        if not found or n <= 0:
            return no_highlights()
        counts = _dense(found, count)
        chosen = _peaks(counts, n, window, min_score)
        bins = chosen["bin"].tolist()
        texts = scan.top_texts(df, step, length_ms, per_user, bins, count)
        top = [texts[b] for b in bins]
        return _highlight_frame(chosen, counts, top, step, length_ms)
    data = df[(df["fork"] != "owner") & ~df["is_deleted"]]
    data = data[_inside(data["vpos_ms"].to_numpy(dtype="int64"), length_ms)]
    if data.empty or n <= 0:
        return no_highlights()
    all_bins, count = _bins(data["vpos_ms"].to_numpy(dtype="int64"), step, length_ms)
    bins = pd.Series(all_bins, index=data.index)
    users = data["user_id"]
    rank = data.groupby([bins, users], sort=False, dropna=True).cumcount()
    kept = bins[users.isna() | (rank.reindex(data.index) < per_user)]
    counts = np.bincount(kept.to_numpy(), minlength=count)
    chosen = _peaks(counts, n, window, min_score)
    texts = data.loc[kept.index, "content"]
    top = [_most_frequent(texts[kept.to_numpy() == b]) for b in chosen["bin"]]
    return _highlight_frame(chosen, counts, top, step, length_ms)


def no_highlights() -> pd.DataFrame:
    """`highlights`' frame without rows."""
    return pd.DataFrame(
        {
            "start": pd.Series([], dtype="timedelta64[ns]"),
            "end": pd.Series([], dtype="timedelta64[ns]"),
            "comments": pd.Series([], dtype="int64"),
            "baseline": pd.Series([], dtype="float64"),
            "prominence": pd.Series([], dtype="float64"),
            "score": pd.Series([], dtype="float64"),
            "top_comment": pd.Series([], dtype=STRING),
        }
    )


def _peaks(counts: np.ndarray, n: int, window: int, min_score: float) -> pd.DataFrame:
    """The ``n`` most prominent peaks of comments per bin: bin, prominence, baseline, score
    (indexed by bin)."""
    series = pd.Series(counts, dtype="float64")
    baseline = series.rolling(window, center=True, min_periods=1).median()
    prominence = series - baseline
    spread = max(1.4826 * float(np.median(np.abs(prominence))), MIN_SPREAD)
    score = prominence / spread
    before = series.shift(1, fill_value=-np.inf)
    after = series.shift(-1, fill_value=-np.inf)
    peaks = (series > before) & (series >= after) & (prominence > 0) & (score >= min_score)
    table = pd.DataFrame(
        {
            "bin": np.arange(len(counts)),
            "prominence": prominence,
            "baseline": baseline,
            "score": score,
        }
    )
    return (
        table[peaks]
        .sort_values(["prominence", "bin"], ascending=[False, True], kind="stable")
        .head(n)
    )


def _highlight_frame(chosen, counts, top: list[str], step: int, length_ms) -> pd.DataFrame:
    positions = chosen.index.to_numpy()
    starts = chosen["bin"].to_numpy(dtype="int64") * step
    ends = np.minimum(starts + step, length_ms) if length_ms is not None else starts + step
    return pd.DataFrame(
        {
            "start": pd.to_timedelta(starts, unit="ms").astype("timedelta64[ns]"),
            "end": pd.to_timedelta(ends, unit="ms").astype("timedelta64[ns]"),
            "comments": np.asarray(counts)[positions].astype("int64"),
            "baseline": chosen["baseline"].to_numpy(),
            "prominence": chosen["prominence"].to_numpy(),
            "score": chosen["score"].to_numpy(),
            "top_comment": pd.array(top, dtype=STRING),
        }
    )


def _most_frequent(texts: pd.Series) -> str:
    counts = texts.value_counts()
    best = counts[counts == counts.max()].index
    return str(min(best))


def activity(df: pd.DataFrame, freq: str = "1D") -> pd.DataFrame:
    """Comments by posting time, per ``freq`` (a pandas frequency: "1h", "1D", "1W", "MS"),
    from the first comment's period to the last, empty periods included: ``comments``,
    ``cumulative`` (int64) and ``share`` of all comments (float64). Periods follow the zone of
    ``posted_at``: load with ``tz=JAPAN`` for Japanese days. Shows the burst after upload and
    its decay, and later revivals.

    Example::

        >>> activity(load_comments("nico-demo.db", "sm9", tz=JAPAN)).head(3)
                                   comments  cumulative     share
        posted_at
        2007-03-06 00:00:00+09:00      6020        6020  0.202578
        2007-03-07 00:00:00+09:00      2799        8819  0.094189
        2007-03-08 00:00:00+09:00      1908       10727  0.064206
    """
    if isinstance(df, CommentScan):
        buckets = scan.activity_buckets(df, _bucket_seconds(freq)).to_pandas()
        dtype = pd.DatetimeTZDtype("ns", df.tz)
        times = pd.to_datetime(buckets["start"].to_numpy(dtype="int64"), unit="s", utc=True)
        ones = pd.Series(
            buckets["comments"].to_numpy(dtype="int64"),
            index=pd.DatetimeIndex(times).tz_convert(df.tz).astype(dtype),
        )
    else:
        dtype = df["posted_at"].dtype
        ones = pd.Series(1, index=pd.DatetimeIndex(df["posted_at"]), dtype="int64").sort_index()
    if ones.empty:
        index = pd.DatetimeIndex([], dtype=dtype, name="posted_at")
        empty = {"comments": "int64", "cumulative": "int64", "share": "float64"}
        return pd.DataFrame({k: np.array([], v) for k, v in empty.items()}, index=index)
    counts = ones.resample(freq).sum().astype("int64")
    counts.index.name = "posted_at"
    out = pd.DataFrame({"comments": counts})
    out["cumulative"] = counts.cumsum()
    out["share"] = counts / counts.sum()
    return out


def _bucket_seconds(freq: str) -> int:
    """The quarter hour DuckDB groups posting times by, when ``freq`` is made of quarter
    hours (days, weeks, months: every zone's offset is a number of them); else seconds."""
    offset = pd.tseries.frequencies.to_offset(freq)
    nanos = getattr(offset, "nanos", None) if isinstance(offset, pd.offsets.Tick) else None
    if nanos is None or nanos % (scan.BUCKET_S * 10**9) == 0:
        return scan.BUCKET_S
    return 1


def commands_summary(df: pd.DataFrame) -> pd.DataFrame:
    """How comments are dressed: the share of each ``position`` (naka, ue, shita), ``size``
    (medium, big, small), ``color`` (white, the named colours, or ``custom`` for #RRGGBB) and
    ``anonymity`` (``184``: posted anonymously, else ``named``). A command a comment does not
    give is the default (naka, medium, white). Rows: ``kind``, ``value``, ``comments`` (int64)
    and ``share`` of the comments (float64), most frequent first within each kind.

    Example::

        >>> commands_summary(load_comments("nico-demo.db", "sm9")).head(4)
               kind   value  comments     share
        0  position    naka     22261  0.749100
        1  position      ue      3750  0.126190
        2  position   shita      3706  0.124710
        3      size  medium     21140  0.711377
    """
    if isinstance(df, CommentScan):
        groups = scan.command_groups(df).to_pandas()
        commands, anonymous = groups["commands"], groups["is_anonymous"].to_numpy(dtype=bool)
        weights = groups["comments"].to_numpy(dtype="int64")
    else:
        commands, anonymous = df["commands"], df["is_anonymous"].to_numpy(dtype=bool)
        weights = np.ones(len(df), dtype="int64")
    return _commands_summary(commands, anonymous, weights)


def _commands_summary(commands: pd.Series, anonymous: np.ndarray, weights: np.ndarray):
    """`commands_summary` of distinct rows, each standing for ``weights`` comments."""
    total = int(weights.sum())
    commands = commands.fillna("").astype(str).reset_index(drop=True)
    tokens = commands.str.split().explode().dropna()
    kind = tokens.map(_command_kind)
    value = tokens.map(_command_value)
    parsed = pd.DataFrame(
        {
            "row": tokens.index,
            "kind": kind.to_numpy(),
            "value": value.to_numpy(),
            "weight": weights[tokens.index.to_numpy(dtype="int64")],
        }
    )
    parsed = parsed.dropna(subset=["kind"]).drop_duplicates(["row", "kind"], keep="first")
    rows = []
    for name, default in DEFAULTS.items():
        given = parsed[parsed["kind"] == name].groupby("value")["weight"].sum()
        missing = total - int(given.sum())
        counts = given.add(pd.Series({default: missing}), fill_value=0).astype("int64")
        rows.append(_ranked(name, counts[counts > 0], total))
    anonymous = anonymous | commands.str.split().map(lambda t: "184" in t).to_numpy(dtype=bool)
    anonymous_count = int(weights[anonymous].sum())
    counts = pd.Series({"184": anonymous_count, "named": int(total - anonymous_count)})
    rows.append(_ranked("anonymity", counts[counts > 0], total))
    out = (
        pd.concat(rows, ignore_index=True)
        if total
        else pd.DataFrame({"kind": [], "value": [], "comments": [], "share": []})
    )
    return out.astype({"kind": STRING, "value": STRING, "comments": "int64", "share": "float64"})


def _command_kind(token: str) -> str | None:
    if token in POSITIONS:
        return "position"
    if token in SIZES:
        return "size"
    if color_code(token) is not None:
        return "color"
    return None


def _command_value(token: str) -> str | None:
    return "custom" if token not in COLORS and color_code(token) is not None else token


def _ranked(kind: str, counts: pd.Series, total: int) -> pd.DataFrame:
    frame = pd.DataFrame({"value": counts.index.astype(str), "comments": counts.to_numpy()})
    frame = frame.sort_values(["comments", "value"], ascending=[False, True], kind="stable")
    frame.insert(0, "kind", kind)
    frame["share"] = frame["comments"] / total
    return frame


def user_stats(df: pd.DataFrame, *, bin: str = "10s") -> pd.DataFrame:
    """Per poster (comments without a user id left out): ``comments``, their ``share`` of all
    comments, ``first_posted_at``/``last_posted_at``, ``is_premium``, ``anonymous_share``,
    ``repeated`` (comments whose text the user had already posted: copy-paste) and
    ``max_per_bin`` (the most comments the user put in one ``bin`` of video time: flooding).
    Most active first.

    Example::

        >>> stats = user_stats(load_comments("nico-demo.db", "sm9"))
        >>> stats[["user_id", "comments", "repeated"]].head(2)
                               user_id  comments  repeated
        0  bLmYPq87_GqX5uUcvVwNi7B549p       224       178
        1                     95646617       149       104
    """
    step = bin_milliseconds(bin)
    if isinstance(df, CommentScan):
        return _user_frame(df, step)
    data = df[df["user_id"].notna()]
    grouped = data.groupby("user_id", sort=False, observed=True)
    counts = grouped.size()
    bins = data["vpos_ms"] // step
    per_bin = data.groupby([data["user_id"], bins], observed=True).size()
    out = pd.DataFrame(
        {
            "user_id": counts.index.astype(STRING),
            "comments": counts.astype("int64"),
            "share": counts / max(len(df), 1),
            "first_posted_at": grouped["posted_at"].min(),
            "last_posted_at": grouped["posted_at"].max(),
            "is_premium": grouped["is_premium"].any().astype(bool),
            "anonymous_share": grouped["is_anonymous"].mean().astype("float64"),
            "repeated": (counts - grouped["content"].nunique()).astype("int64"),
            "max_per_bin": per_bin.groupby(level=0).max().reindex(counts.index).astype("int64"),
        }
    )
    out["share"] = out["share"].astype("float64")
    out.index = pd.RangeIndex(len(out))
    out = out.sort_values(["comments", "user_id"], ascending=[False, True], kind="stable")
    return out.reset_index(drop=True)


def _user_frame(source: CommentScan, step: int) -> pd.DataFrame:
    table, total = scan.user_table(source, step)
    users = table.to_pandas()
    dtype = pd.DatetimeTZDtype("ns", source.tz)
    out = pd.DataFrame(
        {
            "user_id": users["user_id"].astype(STRING),
            "comments": users["comments"].astype("int64"),
            "share": (users["comments"] / max(total, 1)).astype("float64"),
            "first_posted_at": _zoned(users["first_posted_at"], dtype),
            "last_posted_at": _zoned(users["last_posted_at"], dtype),
            "is_premium": users["is_premium"].astype(bool),
            "anonymous_share": users["anonymous_share"].astype("float64"),
            "repeated": users["repeated"].astype("int64"),
            "max_per_bin": users["max_per_bin"].astype("int64"),
        }
    )
    out = out.sort_values(["comments", "user_id"], ascending=[False, True], kind="stable")
    return out.reset_index(drop=True)


def _zoned(values: pd.Series, dtype) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.tz_convert(dtype.tz).astype(dtype)


def vpos_span(video: pd.Series, length: int | None) -> int | None:
    """Seconds of comment positions (vpos) the density chart covers: the video's length; for a
    live program, from vpos 0 (``vpos_base_at``, before it begins) to its end, so neither the
    opening nor the last minutes fall outside (``duration_s`` is end − begin only)."""
    base, end = video.get("vpos_base_at"), video.get("end_at")
    if base is None or end is None or pd.isna(base) or pd.isna(end):
        return length
    return max(int((end - base).total_seconds()), 1)


def timeline(video_id: str | None) -> str:
    """What comment positions (vpos) measure, for axes and titles: a video's time, or a live
    program's (from its vpos base, shortly before it begins).

    >>> timeline("sm9"), timeline("lv1002")
    ('video time', 'program time')
    """
    return "program time" if video_id is not None and is_program_id(video_id) else "video time"
