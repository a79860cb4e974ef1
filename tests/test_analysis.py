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
    assert list(everything["fork"].cat.categories) == ["owner", "main", "easy"]
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
    assert_frame_equal(na.highlights(df), expected)
    assert na.highlights(df, n=1)["start"].tolist() == [pd.Timedelta(seconds=60)]
    uncapped = na.highlights(df, per_user=100)
    assert uncapped["start"].tolist()[0] == pd.Timedelta(seconds=30)  # the flood wins


def test_highlights_ignore_the_owner(analysis_db):
    everything = na.load_comments(analysis_db, "sm1", forks=("owner", "main", "easy"))
    assert_frame_equal(
        na.highlights(everything), na.highlights(everything[everything["fork"] != "owner"])
    )


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
