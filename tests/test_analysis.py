"""nicocomments.analysis on the fixture database (fixtures/analysis/sm1.jsonl): exact frames."""

from __future__ import annotations

import builtins

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from nicocomments import analysis as na
from nicocomments.errors import BadInput

S = "string"


def td(*seconds):
    return pd.to_timedelta(list(seconds), unit="s").astype("timedelta64[ns]")


def utc(*stamps):
    return pd.to_datetime(list(stamps), utc=True).astype("datetime64[ns, UTC]")


@pytest.fixture
def df(analysis_db):
    return na.load_comments(analysis_db, "sm1")


def test_load_comments_applies_the_documented_dtypes(analysis_db):
    everything = na.load_comments(
        analysis_db, "sm1", forks=("owner", "main", "easy"), include_deleted=True
    )
    assert everything.dtypes.to_dict() == {
        k: pd.api.types.pandas_dtype(v) if isinstance(v, str) else v
        for k, v in na.COMMENT_DTYPES.items()
    }
    assert list(everything["fork"].cat.categories) == ["owner", "main", "easy", "live"]
    assert len(everything) == 20
    first = everything.iloc[1]
    assert first["fork"] == "main" and first["no"] == 1
    assert first["vpos"] == pd.Timedelta(milliseconds=1200)
    assert first["posted_at"] == pd.Timestamp("2020-01-01T00:05:00Z")
    assert first["user_id"] == "u1" and bool(first["is_anonymous"]) is True
    owner = everything.iloc[0]
    assert owner["fork"] == "owner" and owner["score"] is pd.NA and owner["date_usec"] is pd.NA
    deleted = everything[everything["is_deleted"]]
    assert deleted["deleted_reason"].tolist() == [2] and deleted["content"].tolist() == [""]
    # Text columns no row fills (SQLite's driver types them as integers) are text, all NA.
    for name in ("message_id", "name"):
        assert everything[name].isna().all() and everything[name].dtype == "string", name


def test_load_comments_defaults_leave_out_owner_and_deleted(df):
    assert df["fork"].tolist() == ["main"] * 17 + ["easy"]
    assert not df["is_deleted"].any()
    assert df["no"].tolist()[:3] == [1, 2, 3]
    assert df.index.equals(pd.RangeIndex(18))


def test_japan_time(analysis_db):
    jst = na.load_comments(analysis_db, "sm1", tz=na.JAPAN)
    assert str(jst["posted_at"].dt.tz) == "Asia/Tokyo"
    assert jst["posted_at"].iloc[0] == pd.Timestamp("2020-01-01T09:05:00+09:00")


def test_an_empty_result_keeps_the_dtypes(analysis_db, df):
    empty = na.load_comments(analysis_db, "sm404")
    assert empty.empty and empty.dtypes.equals(df.dtypes)
    for function in (na.density, na.highlights, na.activity, na.commands_summary, na.top_terms):
        assert function(empty).empty
    assert na.user_stats(empty).dtypes.equals(na.user_stats(df).dtypes)
    assert na.highlights(empty).dtypes.equals(na.highlights(df).dtypes)
    assert na.density(empty).dtypes.equals(na.density(df).dtypes)


def test_a_missing_database_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="no such database"):
        na.load_comments(str(tmp_path / "typo.db"))
    assert not (tmp_path / "typo.db").exists()


def test_density(df):
    expected = pd.DataFrame(
        {
            "comments": np.array([3, 1, 0, 7, 1, 0, 5, 1], dtype="int64"),
            "per_minute": np.array([18.0, 6.0, 0.0, 42.0, 6.0, 0.0, 30.0, 6.0]),
        },
        index=pd.TimedeltaIndex(td(0, 10, 20, 30, 40, 50, 60, 70), name="vpos"),
    )
    assert_frame_equal(na.density(df), expected)
    per_minute = na.density(df, bin="1min")
    assert per_minute["comments"].tolist() == [12, 6]
    assert per_minute["per_minute"].tolist() == [12.0, 6.0]


def test_highlights_cap_floods_and_rank_by_prominence(df):
    # Bin 0:30 holds 7 comments, 6 of them one user's "8888": capped at 3 per user, it counts 4.
    spread = 1.4826  # 1.4826 × the median absolute prominence (1)
    expected = pd.DataFrame(
        {
            "start": td(60, 30, 0),
            "end": td(70, 40, 10),
            "comments": np.array([5, 4, 3], dtype="int64"),
            "baseline": [1.0, 1.0, 1.0],
            "prominence": [4.0, 3.0, 2.0],
            "score": [4 / spread, 3 / spread, 2 / spread],
            "top_comment": pd.array(["キター", "8888", "うぽつ"], dtype=S),
        }
    )
    assert_frame_equal(na.highlights(df, min_score=0), expected)
    assert na.highlights(df, n=1, min_score=0)["start"].tolist() == [pd.Timedelta(seconds=60)]
    uncapped = na.highlights(df, per_user=100, min_score=0)
    assert uncapped["start"].tolist()[0] == pd.Timedelta(seconds=30)  # the flood wins
    # None of them scores 3.5 robust standard deviations: by default, no highlight at all.
    assert na.highlights(df).empty


def test_highlights_ignore_the_owner(analysis_db):
    everything = na.load_comments(analysis_db, "sm1", forks=("owner", "main", "easy"))
    assert_frame_equal(
        na.highlights(everything, min_score=0),
        na.highlights(everything[everything["fork"] != "owner"], min_score=0),
    )


def _with_strays(df, *positions_ms):
    """``df`` and comments by new users at ``positions_ms`` (outside an 80-second video)."""
    strays = df.iloc[[0] * len(positions_ms)].copy()
    strays["vpos_ms"] = list(positions_ms)
    strays["vpos"] = pd.to_timedelta(strays["vpos_ms"], unit="ms").astype("timedelta64[ns]")
    strays["user_id"] = pd.array([f"stray{i}" for i in range(len(positions_ms))], dtype=S)
    return pd.concat([df, strays], ignore_index=True)


def test_density_and_highlights_keep_to_the_videos_length(df):
    # Four stray comments at 100:00 and one before the start, in an 80-second video.
    strays = _with_strays(df, 6_000_000, 6_000_000, 6_000_500, 6_001_000, -2_000)
    assert_frame_equal(na.density(strays, length=80), na.density(df, length=80))
    assert len(na.density(strays, length=80)) == 8  # 0:00 to 1:20, not to 100:00
    assert na.outside_video(strays, 80).to_dict() == {"before_start": 1, "after_end": 4}
    assert na.outside_video(strays).to_dict() == {"before_start": 1, "after_end": 0}
    assert_frame_equal(
        na.highlights(strays, length=80, min_score=0), na.highlights(df, length=80, min_score=0)
    )
    # A length as a Timedelta means the same; the last bin ends with the video.
    short = na.density(df, length=pd.Timedelta(seconds=75))
    assert short.index[-1] == pd.Timedelta(seconds=70)
    assert short["per_minute"].iloc[-1] == 1 * 60 / 5  # one comment in the last five seconds
    assert na.highlights(df, length=75, min_score=0)["end"].max() <= pd.Timedelta(seconds=75)
    # Unknown length: to the last comment, and still never before 0:00.
    assert na.density(strays).index[0] == pd.Timedelta(0)
    assert na.density(strays).index[-1] == pd.Timedelta(minutes=100)


def _random_video(seed: int, rate: float, bins: int = 30) -> pd.DataFrame:
    """Comments in 10-second bins, each by a user of its own, ``rate`` per bin on average."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate, bins)
    vpos = np.repeat(np.arange(bins) * 10_000 + 5_000, counts)
    return pd.DataFrame(
        {
            "fork": pd.Categorical(["main"] * len(vpos), categories=na.FORK_DTYPE.categories),
            "vpos_ms": vpos.astype("int64"),
            "user_id": pd.array([f"u{i}" for i in range(len(vpos))], dtype=S),
            "is_deleted": np.zeros(len(vpos), dtype=bool),
            "content": pd.array(["w"] * len(vpos), dtype=S),
        }
    )


def test_score_is_one_measure_robust_standard_deviations_but_at_least_one_comment():
    """score = prominence / max(1.4826 × median |prominence|, 1), whatever the spread: with no
    floor it turned into raw comments when the median was 0, and grew past them below 1."""
    spreads = []
    for seed in range(40):
        video = _random_video(seed, rate=(0.3, 1.0, 3.0, 8.0)[seed % 4])
        counts = na.density(video)["comments"].astype(float)
        baseline = counts.rolling(9, center=True, min_periods=1).median()
        spread = 1.4826 * float(np.median(np.abs(counts - baseline)))
        spreads.append(spread)
        found = na.highlights(video, n=30, min_score=0)
        assert np.allclose(found["score"], found["prominence"] / max(spread, 1.0)), seed
    # The cases that matter were all drawn: no spread, some below one comment, some above.
    assert min(spreads) == 0 and any(0 < s < 1 for s in spreads) and max(spreads) > 1


def test_highlights_need_a_minimum_score(df):
    weak = na.highlights(df, min_score=0)
    assert weak["score"].max() < na.compute.MIN_SCORE
    assert na.highlights(df).empty
    strong = _with_strays(df, *[50_000 + i * 100 for i in range(20)])  # 20 users at 0:50
    found = na.highlights(strong)
    assert found["start"].tolist() == [pd.Timedelta(seconds=50)]
    assert (found["score"] >= na.compute.MIN_SCORE).all()


def test_activity_by_japanese_day(analysis_db):
    jst = na.load_comments(analysis_db, "sm1", tz=na.JAPAN)
    days = pd.DatetimeIndex(
        pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"]).tz_localize(
            na.JAPAN
        ),
        name="posted_at",
    ).astype("datetime64[ns, Asia/Tokyo]")
    expected = pd.DataFrame(
        {
            "comments": np.array([12, 5, 0, 1], dtype="int64"),
            "cumulative": np.array([12, 17, 17, 18], dtype="int64"),
            "share": [12 / 18, 5 / 18, 0.0, 1 / 18],
        },
        index=days,
    )
    result = na.activity(jst)
    result.index.freq = None
    assert_frame_equal(result, expected)


def test_commands_summary(df):
    n = 18
    expected = pd.DataFrame(
        {
            "kind": pd.array(
                ["position"] * 3 + ["size"] * 3 + ["color"] * 3 + ["anonymity"] * 2, dtype=S
            ),
            "value": pd.array(
                [
                    "naka",
                    "shita",
                    "ue",
                    "medium",
                    "big",
                    "small",
                    "white",
                    "custom",
                    "red",
                    "named",
                    "184",
                ],
                dtype=S,
            ),
            "comments": np.array([16, 1, 1, 16, 1, 1, 16, 1, 1, 10, 8], dtype="int64"),
            "share": [c / n for c in (16, 1, 1, 16, 1, 1, 16, 1, 1, 10, 8)],
        }
    )
    assert_frame_equal(na.commands_summary(df), expected)


def _terms(rows, total=18):
    return pd.DataFrame(
        {
            "term": pd.array([t for t, _ in rows], dtype=S),
            "comments": np.array([c for _, c in rows], dtype="int64"),
            "share": [c / total for _, c in rows],
        }
    )


def test_top_terms_with_mecab(df):
    expected = _terms(
        [
            ("8888", 7),
            ("キター", 4),
            ("w", 2),
            ("うぽつ", 2),
            ("草", 2),
            ("かわいい", 1),
            ("生える", 1),
        ]
    )
    assert_frame_equal(na.top_terms(df, n=10, tokenizer="mecab"), expected)
    assert_frame_equal(na.top_terms(df, n=10), expected)  # auto: MeCab, installed for the tests


def test_top_terms_with_the_ngram_fallback(df):
    expected = _terms(
        [("8888", 7), ("キター", 4), ("w", 2), ("うぽつ", 2), ("草", 2), ("いい", 1), ("える", 1)]
    )
    assert_frame_equal(na.top_terms(df, n=7, tokenizer="ngram"), expected)


def test_auto_falls_back_to_ngrams_without_fugashi(df, monkeypatch):
    real_import = builtins.__import__

    def no_fugashi(name, *args, **kwargs):
        if name == "fugashi":
            raise ImportError("No module named 'fugashi'")
        return real_import(name, *args, **kwargs)

    na.terms._tagger.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_fugashi)
    try:
        assert na.make_tokenizer("auto") is na.terms.ngram_terms
        assert_frame_equal(na.top_terms(df, n=7), na.top_terms(df, n=7, tokenizer="ngram"))
        with pytest.raises(BadInput, match=r"nicocomments\[ja\]"):
            na.make_tokenizer("mecab")
    finally:
        na.terms._tagger.cache_clear()


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("ｗｗｗｗｗ", ["w"]),
        ("すごいwww", ["w"]),
        ("８８８８８８８", ["8888"]),
        ("大草原", ["草"]),
        ("ｷﾀ━━━", ["キター"]),
        ("wow", []),
    ],
)
def test_slang_is_normalised(text, terms):
    found, _rest = na.terms.slang(na.normalize(text))
    assert found == terms


def test_user_stats(df):
    users = ["u4", "u1", "u2", "u3", "u5", "u6", "u7", "u8"]
    comments = [6, 3, 3, 2, 1, 1, 1, 1]
    expected = pd.DataFrame(
        {
            "user_id": pd.array(users, dtype=S),
            "comments": np.array(comments, dtype="int64"),
            "share": [c / 18 for c in comments],
            "first_posted_at": utc(
                "2020-01-01T00:10Z",
                "2020-01-01T00:05Z",
                "2020-01-01T00:06Z",
                "2020-01-01T00:07Z",
                "2020-01-01T00:20Z",
                "2020-01-02T04:00Z",
                "2020-01-02T05:00Z",
                "2020-01-01T00:08Z",
            ),
            "last_posted_at": utc(
                "2020-01-01T00:15Z",
                "2020-01-01T16:00Z",
                "2020-01-03T15:30Z",
                "2020-01-02T03:00Z",
                "2020-01-01T00:20Z",
                "2020-01-02T04:00Z",
                "2020-01-02T05:00Z",
                "2020-01-01T00:08Z",
            ),
            "is_premium": [False, False, True, False, False, False, False, False],
            "anonymous_share": [1.0, 1 / 3, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
            "repeated": np.array([5, 0, 0, 0, 0, 0, 0, 0], dtype="int64"),
            "max_per_bin": np.array([6, 1, 1, 1, 1, 1, 1, 1], dtype="int64"),
        }
    )
    assert_frame_equal(na.user_stats(df), expected)


def test_threads_and_runs(analysis_db):
    threads = na.load_threads(analysis_db, "sm1")
    assert threads.dtypes.to_dict() == {
        k: pd.api.types.pandas_dtype(v) if isinstance(v, str) else v
        for k, v in na.THREAD_DTYPES.items()
    }
    assert threads["fork"].tolist() == ["owner", "main", "easy"]
    runs = na.load_runs(analysis_db, "sm1")
    assert runs[["protocol", "mode", "status"]].iloc[0].tolist() == [
        "legacy",
        "all-history",
        "completed",
    ]
    assert runs["started_at"].dtype == "datetime64[ns, UTC]"


def test_the_functions_never_change_their_input(df):
    before = df.copy()
    for function in (na.density, na.highlights, na.activity, na.commands_summary, na.user_stats):
        function(df)
    assert_frame_equal(df, before)


def test_plot_writes_a_png(df, tmp_path):
    from nicocomments.analysis.plot import plot_summary

    path = plot_summary(
        "sm1", na.density(df), na.highlights(df), na.activity(df), tmp_path / "sm1.png"
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot

    yield pyplot
    pyplot.close("all")


def assert_labelled(figure):
    """Every axis of every panel says what it shows (a twin's shared x axis is its partner's)."""
    for axis in figure.axes:
        assert axis.get_ylabel(), axis.get_title()
        if axis.xaxis.get_visible():
            assert axis.get_xlabel(), axis.get_title()


def test_highlight_marks_never_cover_each_other(pyplot):
    from nicocomments.analysis.plot import density_panel

    # A 24-minute video whose highlights crowd into one minute, 10 s apart.
    density = na.density(pd.DataFrame({"vpos_ms": np.arange(0, 1_440_000, 700)}), length=1440)
    starts = td(600, 610, 620, 630, 640, 650, 1200)
    marks = pd.DataFrame({"start": starts, "end": starts + pd.Timedelta(seconds=10)})
    figure, axis = pyplot.subplots(figsize=(11, 3.5))
    density_panel(axis, density, marks, length=1440)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in axis.texts]
    assert len(boxes) == len(starts)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    panel = axis.get_window_extent(renderer)
    assert all(panel.y0 <= box.y0 and box.y1 <= panel.y1 for box in boxes)  # inside the panel
    assert sorted(t.get_text() for t in axis.texts)[0] == "#1 10:00"
    assert_labelled(figure)
    # The axis ends with the video, not after a whole last bin.
    assert axis.lines[0].get_xdata()[-1] == pytest.approx(24.0)


def _activity(days: list[str]) -> pd.DataFrame:
    posted = pd.to_datetime(days).tz_localize(na.JAPAN)
    return na.activity(pd.DataFrame({"posted_at": posted}))


@pytest.mark.parametrize(
    ("days", "label", "first_start", "last_end"),
    [
        # Weekly: 2020-01-01 is a Wednesday, in the week from Sunday 2019-12-29.
        (["2020-01-01", "2020-06-10", "2020-07-20"], "week", "2019-12-29", "2020-07-26"),
        (["2020-01-15", "2023-05-02"], "month", "2020-01-01", "2023-06-01"),
        (["2020-01-15", "2020-01-20", "2020-01-20"], "day", "2020-01-15", "2020-01-21"),
    ],
)
def test_activity_periods_are_drawn_where_they_are_and_the_last_one_shows(
    pyplot, days, label, first_start, last_end
):
    from nicocomments.analysis.plot import activity_panel

    figure, axis = pyplot.subplots()
    activity_panel(axis, _activity(days))
    steps = axis.lines[0]
    edges = [pd.Timestamp(x).tz_convert(na.JAPAN).date().isoformat() for x in steps.get_xdata()]
    assert edges[0] == first_start and edges[-1] == last_end
    heights = list(steps.get_ydata())
    assert heights[0] == days.count(days[0]) and heights[-2] == days.count(days[-1])
    assert sum(heights[:-1]) == len(days)  # every comment in one period, none twice
    assert label in axis.get_ylabel()
    assert_labelled(figure)


def test_a_path_is_opened_read_only(tmp_path, monkeypatch):
    """A notebook's `load_comments("nico.db")` never writes the database (issue 10)."""
    from nicocomments import store
    from nicocomments.store import db

    path = tmp_path / "n.db"
    store.open_db(str(path)).dispose()
    opened = []
    real = db.open_db

    def spy(target, **options):
        opened.append(options)
        return real(target, **options)

    monkeypatch.setattr(db, "open_db", spy)
    for load in (na.load_comments, na.load_videos, na.load_threads, na.load_runs):
        load(str(path))
    assert opened == [{"read_only": True}] * 4


def test_a_summary_of_a_video_is_plain_data(analysis_db):
    import json

    result = na.summarize_video(analysis_db, "sm1", terms=3, top=2, bin="10s", tz="UTC")
    summary = json.loads(json.dumps(result.summary))  # plain data, as --format json prints it
    assert summary["video_id"] == "sm1" and summary["comments"] == sum(summary["by_fork"].values())
    assert len(summary["top_terms"]) <= 3 and len(summary["highlights"]) <= 2
    assert list(result.density.columns) == ["comments", "per_minute"]


def test_a_live_programs_plot_is_over_program_time(df, pyplot, monkeypatch, tmp_path):
    """`nico analyze lv… --plot`: the density panel's axis is the program's time."""
    from nicocomments.analysis import plot

    density_panel, drawn = plot.density_panel, []

    def spy(axis, *args, **kwargs):
        density_panel(axis, *args, **kwargs)
        drawn.append((kwargs["axis_name"], axis.get_xlabel()))

    monkeypatch.setattr(plot, "density_panel", spy)
    for video_id in ("lv1002", "sm9"):
        plot.plot_summary(
            video_id, na.density(df), na.highlights(df), na.activity(df), tmp_path / "x.png"
        )
    assert drawn == [
        ("program time", "program time (minutes)"),
        ("video time", "video time (minutes)"),
    ]
