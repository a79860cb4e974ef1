"""DataFrame → DataFrame: density over video time, highlights, posting activity, commands and
users. Every function takes a frame shaped like `load_comments`'s and never changes it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nicocomments.analysis.load import STRING
from nicocomments.commands import COLORS, DEFAULTS, POSITIONS, SIZES, color_code


def bin_milliseconds(bin: str) -> int:
    """ "10s" → 10000; a ValueError for anything that is not a positive duration."""
    try:
        milliseconds = int(pd.Timedelta(bin) / pd.Timedelta(milliseconds=1))
    except (ValueError, TypeError):
        raise ValueError(f"bin must be a duration such as 10s or 1min, not {bin!r}") from None
    if milliseconds <= 0:
        raise ValueError(f"bin must be a positive duration, not {bin!r}")
    return milliseconds


def _counts(bins: np.ndarray) -> tuple[int, np.ndarray]:
    """(first bin, counts per bin) from 0 (or the lowest bin) to the highest bin."""
    first = min(int(bins.min()), 0)
    return first, np.bincount(bins - first).astype("int64")


def density(df: pd.DataFrame, bin: str = "10s") -> pd.DataFrame:
    """Comments per ``bin`` of video time, indexed by the bin's start (``vpos``, a Timedelta),
    from 0 to the last comment, empty bins included: ``comments`` (int64) and ``per_minute``
    (float64: the same count as a rate per minute of video, comparable across bin sizes).

    Example::

        >>> density(load_comments("nico.db", "sm9"), bin="30s").head(3)
                         comments  per_minute
        vpos
        0 days 00:00:00        41        82.0
        0 days 00:00:30        17        34.0
        0 days 00:01:00        25        50.0
    """
    step = bin_milliseconds(bin)
    if df.empty:
        index = pd.TimedeltaIndex([], dtype="timedelta64[ns]", name="vpos")
        return pd.DataFrame(
            {"comments": np.array([], "int64"), "per_minute": np.array([], "float64")},
            index=index,
        )
    first, counts = _counts(df["vpos_ms"].to_numpy(dtype="int64") // step)
    starts = (np.arange(len(counts), dtype="int64") + first) * step
    index = pd.TimedeltaIndex(pd.to_timedelta(starts, unit="ms"), name="vpos")
    index = index.astype("timedelta64[ns]")
    return pd.DataFrame({"comments": counts, "per_minute": counts * (60_000 / step)}, index=index)


def highlights(
    df: pd.DataFrame,
    n: int = 5,
    *,
    bin: str = "10s",
    per_user: int = 3,
    window: int = 9,
) -> pd.DataFrame:
    """The ``n`` moments of the video that drew the most comments, most prominent first.

    Robust against the usual traps: the owner's comments and deleted ones are left out; each
    user counts at most ``per_user`` times per bin, so one person flooding cannot make a peak;
    a peak is a bin that is a local maximum *and* stands above the rolling median of the
    ``window`` bins around it (the ``baseline``), so a video that is busy all the way through
    has no highlights merely for being busy. ``prominence`` = comments − baseline; ``score`` =
    prominence in robust standard deviations (1.4826 × the median absolute prominence);
    ``top_comment`` is the bin's most frequent text.

    Example::

        >>> highlights(load_comments("nico.db", "sm9"), n=2)
                    start             end  comments  baseline  prominence  score top_comment
        0 0 days 00:01:20 0 days 00:01:30        38       9.0        29.0  9.67        ｷﾀ━(ﾟ∀ﾟ)━!
        1 0 days 00:03:10 0 days 00:03:20        21       8.0        13.0  4.33         8888
    """
    step = bin_milliseconds(bin)
    data = df[(df["fork"] != "owner") & ~df["is_deleted"]]
    columns = {
        "start": pd.Series([], dtype="timedelta64[ns]"),
        "end": pd.Series([], dtype="timedelta64[ns]"),
        "comments": pd.Series([], dtype="int64"),
        "baseline": pd.Series([], dtype="float64"),
        "prominence": pd.Series([], dtype="float64"),
        "score": pd.Series([], dtype="float64"),
        "top_comment": pd.Series([], dtype=STRING),
    }
    if data.empty or n <= 0:
        return pd.DataFrame(columns)
    bins = pd.Series(data["vpos_ms"].to_numpy(dtype="int64") // step, index=data.index)
    users = data["user_id"]
    rank = data.groupby([bins, users], sort=False, dropna=True).cumcount()
    kept = bins[users.isna() | (rank.reindex(data.index) < per_user)]
    first, counts = _counts(kept.to_numpy())
    series = pd.Series(counts, dtype="float64")
    baseline = series.rolling(window, center=True, min_periods=1).median()
    prominence = series - baseline
    before = series.shift(1, fill_value=-np.inf)
    after = series.shift(-1, fill_value=-np.inf)
    peaks = (series > before) & (series >= after) & (prominence > 0)
    spread = 1.4826 * float(np.median(np.abs(prominence)))
    chosen = (
        pd.DataFrame({"bin": np.arange(len(counts)) + first, "prominence": prominence})[peaks]
        .sort_values(["prominence", "bin"], ascending=[False, True], kind="stable")
        .head(n)
    )
    positions = chosen.index.to_numpy()
    texts = data.loc[kept.index, "content"]
    top = [_most_frequent(texts[kept.to_numpy() == b]) for b in chosen["bin"]]
    starts = chosen["bin"].to_numpy(dtype="int64") * step
    return pd.DataFrame(
        {
            "start": pd.to_timedelta(starts, unit="ms").astype("timedelta64[ns]"),
            "end": pd.to_timedelta(starts + step, unit="ms").astype("timedelta64[ns]"),
            "comments": counts[positions],
            "baseline": baseline.to_numpy()[positions],
            "prominence": prominence.to_numpy()[positions],
            "score": prominence.to_numpy()[positions] / (spread if spread > 0 else 1.0),
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

        >>> activity(load_comments("nico.db", "sm9", tz=JAPAN)).head(3)
                                   comments  cumulative     share
        posted_at
        2007-03-06 00:00:00+09:00      1520        1520  0.050667
        2007-03-07 00:00:00+09:00       640        2160  0.021333
        2007-03-08 00:00:00+09:00       301        2461  0.010033
    """
    if df.empty:
        index = pd.DatetimeIndex([], dtype=df["posted_at"].dtype, name="posted_at")
        empty = {"comments": "int64", "cumulative": "int64", "share": "float64"}
        return pd.DataFrame({k: np.array([], v) for k, v in empty.items()}, index=index)
    ones = pd.Series(1, index=pd.DatetimeIndex(df["posted_at"]), dtype="int64").sort_index()
    counts = ones.resample(freq).sum().astype("int64")
    counts.index.name = "posted_at"
    out = pd.DataFrame({"comments": counts})
    out["cumulative"] = counts.cumsum()
    out["share"] = counts / counts.sum()
    return out


def commands_summary(df: pd.DataFrame) -> pd.DataFrame:
    """How comments are dressed: the share of each ``position`` (naka, ue, shita), ``size``
    (medium, big, small), ``color`` (white, the named colours, or ``custom`` for #RRGGBB) and
    ``anonymity`` (``184``: posted anonymously, else ``named``). A command a comment does not
    give is the default (naka, medium, white). Rows: ``kind``, ``value``, ``comments`` (int64)
    and ``share`` of the comments (float64), most frequent first within each kind.

    Example::

        >>> commands_summary(load_comments("nico.db", "sm9")).head(4)
               kind  value  comments     share
        0  position   naka     27650  0.921667
        1  position     ue      1500  0.050000
        2  position  shita       850  0.028333
        3      size medium     28900  0.963333
    """
    total = len(df)
    tokens = df["commands"].fillna("").astype(str).str.split().explode().dropna()
    kind = tokens.map(_command_kind)
    value = tokens.map(_command_value)
    parsed = pd.DataFrame({"row": tokens.index, "kind": kind.to_numpy(), "value": value})
    parsed = parsed.dropna(subset=["kind"]).drop_duplicates(["row", "kind"], keep="first")
    rows = []
    for name, default in DEFAULTS.items():
        given = parsed[parsed["kind"] == name]["value"].value_counts()
        missing = total - int(given.sum())
        counts = given.add(pd.Series({default: missing}), fill_value=0).astype("int64")
        rows.append(_ranked(name, counts[counts > 0], total))
    anonymous = df["is_anonymous"].to_numpy(dtype=bool) | df["commands"].fillna("").str.split().map(
        lambda t: "184" in t
    ).to_numpy(dtype=bool)
    counts = pd.Series({"184": int(anonymous.sum()), "named": int(total - anonymous.sum())})
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

        >>> user_stats(load_comments("nico.db", "sm9"))[["user_id", "comments", "repeated"]].head(2)
                               user_id  comments  repeated
        0  sYfwOn7FJyhtVnQ8xpK6yHi7Zsc        57        41
        1  AQLe4xYvSMmqAznmn3-Xcnxxhuc        12         0
    """
    data = df[df["user_id"].notna()]
    step = bin_milliseconds(bin)
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
