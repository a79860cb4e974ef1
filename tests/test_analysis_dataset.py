"""Every analysis agrees between the database and a Parquet dataset of the same comments: on
a frame loaded from either, and on a `CommentScan` (DuckDB doing the grouping)."""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from nicocomments import analysis as na
from nicocomments.errors import BadInput


@pytest.fixture
def both(analysis_db, tmp_path, nico):
    """(database engine, dataset directory) of the analysis fixture."""
    out = tmp_path / "ds"
    target = analysis_db.url.render_as_string(hide_password=False).replace("+psycopg", "")
    if analysis_db.dialect.name == "sqlite":
        target = analysis_db.url.database
    result = nico("export", "--db", target, "--format", "parquet", "--partitioned", out)
    assert result.exit_code == 0, result.output
    return analysis_db, out


LOADS = [
    {},
    {"forks": ("owner", "main", "easy"), "include_deleted": True},
    {"tz": na.JAPAN},
    {"forks": ("easy",)},
]


@pytest.mark.parametrize("options", LOADS)
def test_load_comments_is_the_same_frame(both, options):
    db, directory = both
    expected = na.load_comments(db, "sm1", **options)
    got = na.load_comments(directory, "sm1", **options)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    assert got["run_id"].isna().all()  # a dataset has no runs
    assert_frame_equal(got.drop(columns="run_id"), expected.drop(columns="run_id"))
    assert_frame_equal(
        na.load_comments(directory, **options).drop(columns="run_id"),
        expected.drop(columns="run_id"),
    )


ANALYSES = {
    "density": lambda x: na.density(x, bin="10s"),
    "density_length": lambda x: na.density(x, bin="5s", length=30),
    "highlights": lambda x: na.highlights(x, n=5, bin="2s", min_score=0),
    "highlights_length": lambda x: na.highlights(
        x, n=3, bin="5s", length=20, per_user=1, min_score=0
    ),
    "activity_day": lambda x: na.activity(x, freq="1D"),
    "activity_hour": lambda x: na.activity(x, freq="1h"),
    "activity_minute": lambda x: na.activity(x, freq="1min"),
    "activity_month": lambda x: na.activity(x, freq="MS"),
    "activity_week": lambda x: na.activity(x, freq="W"),
    "commands": na.commands_summary,
    "users": lambda x: na.user_stats(x, bin="5s"),
    "terms": lambda x: na.top_terms(x, n=20, tokenizer="ngram"),
    "outside": lambda x: na.outside_video(x, 20),
}


@pytest.mark.parametrize("name", list(ANALYSES))
@pytest.mark.parametrize("options", LOADS)
def test_every_analysis_agrees_on_a_scan(both, name, options):
    db, directory = both
    analysis = ANALYSES[name]
    expected = analysis(na.load_comments(db, "sm1", **options))
    scan = na.scan_comments(directory, "sm1", **options)
    got = analysis(scan)
    if isinstance(expected, pd.Series):
        assert_series_equal(got, expected)
    else:
        assert_frame_equal(got, expected)
    assert len(expected) or name.startswith("highlights")  # the fixture exercises each


def test_highlights_find_peaks_in_both(both):
    db, directory = both
    expected = na.highlights(na.load_comments(db, "sm1"), n=5, bin="2s", min_score=0)
    assert len(expected) >= 1  # so the agreement above is about real peaks
    assert len(na.highlights(na.scan_comments(directory, "sm1"), n=5, bin="2s", min_score=0))


def test_summarize_video_agrees(both):
    db, directory = both
    for tz in ("UTC", na.JAPAN):
        expected = na.summarize_video(db, "sm1", tz=tz, tokenizer="ngram", bin="2s")
        got = na.summarize_video(directory, "sm1", tz=tz, tokenizer="ngram", bin="2s")
        assert got.summary == expected.summary
        assert_frame_equal(got.density, expected.density)
        assert_frame_equal(got.activity, expected.activity)


def test_scan_refusals(tmp_path):
    with pytest.raises(BadInput, match="no such dataset directory"):
        na.scan_comments(tmp_path / "missing")
    with pytest.raises(BadInput, match="not a comment dataset"):
        na.scan_comments(tmp_path)
