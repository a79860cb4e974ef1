"""Every analysis agrees between the database and a Parquet dataset of the same comments: on
a frame loaded from either, and on a `CommentScan` (DuckDB doing the grouping)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from nicocomments import analysis as na
from nicocomments.analysis import scan
from nicocomments.errors import BadInput, DatabaseError


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
    "months": na.comments_per_month,  # one month: an index pandas would give a freq
    "busiest": na.busiest_videos,
    "common": na.common_comments,
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


@pytest.fixture
def forks_db(tmp_path, nico):
    """SQLite and a dataset (nico export --partitioned) holding a live program's comments and a
    video's comments of every fork: owner, main, easy and one the site added ("ai")."""
    from nicocomments import store
    from nicocomments.records import Comment

    path = str(tmp_path / "nico.db")
    engine = store.open_db(path)
    start = 1_700_000_000
    live = [
        # a peak: 20 comments at 3:20 into the program, one every 10 seconds before
        Comment("lv1", "live", no, 10_000 * min(no, 20) + no, start + no, "w" * (no % 3) or "88")
        for no in range(1, 40)
    ]
    video = [
        Comment("1", fork, no, 500 * no, start + 60 * no, f"{fork} {no % 2}")
        for fork in ("owner", "main", "easy", "ai")
        for no in range(1, 6)
    ]
    with engine.begin() as connection:
        for video_id, comments in (("lv1", live), ("sm1", video)):
            store.ensure_video(connection, video_id, store.now_utc())
            store.save_comments(connection, video_id, None, comments)
    engine.dispose()
    out = tmp_path / "ds"
    result = nico(
        "export", "--db", path, "--format", "parquet", "--partitioned", out, "--forks", "all"
    )
    assert result.exit_code == 0, result.output
    return path, out


def test_a_dataset_keeps_live_and_other_forks_in_analyses(forks_db):
    path, directory = forks_db
    expected = na.summarize_video(path, "lv1", tokenizer="auto").summary
    got = na.summarize_video(directory, "lv1", tokenizer="auto").summary
    assert got == expected and expected["highlights"] and expected["top_terms"]
    scan = na.scan_comments(directory)
    assert na.busiest_videos(scan, 2)["comments"].tolist() == [39, 15]  # main, easy, ai
    assert na.comments_per_month(scan)["comments"].sum() == 39 + 15
    assert_frame_equal(na.load_comments(scan), na.load_comments(path))
    assert_frame_equal(
        na.load_comments(directory, forks=na.load.FORKS, include_deleted=True),
        na.load_comments(path, forks=na.load.FORKS, include_deleted=True),
    )


def test_a_fork_a_server_added_is_loaded_and_counted_like_the_others(forks_db):
    """Forks are not an enumeration: ``ai`` comments are viewers' comments by default, can be
    asked for by name, and are counted in the summary, from the database and the dataset."""
    path, directory = forks_db
    for source in (path, directory):
        viewers = na.load_comments(source, "sm1")
        assert viewers["fork"].value_counts().to_dict() == {"main": 5, "easy": 5, "ai": 5} | {
            "owner": 0,
            "live": 0,
        }
        assert list(viewers["fork"].cat.categories) == [*na.load.FORKS, "ai"]
        only = na.load_comments(source, "sm1", forks=("ai",))
        assert only["content"].tolist() == [f"ai {no % 2}" for no in range(1, 6)]
        every = na.load_comments(source, "sm1", forks="all")
        assert len(every) == 20
        summary = na.summarize_video(source, "sm1", tokenizer="ngram").summary
        assert summary["by_fork"] == {"owner": 5, "main": 5, "easy": 5, "ai": 5}
        assert summary["comments"] == 20
    assert_frame_equal(
        na.load_comments(path, forks="all"), na.load_comments(directory, forks="all")
    )
    with pytest.raises(BadInput, match="not a fork"):
        na.load_comments(path, "sm1", forks=("no such fork!",))


def test_scan_refusals(tmp_path):
    with pytest.raises(BadInput, match="no such dataset directory"):
        na.scan_comments(tmp_path / "missing")
    with pytest.raises(BadInput, match="not a comment dataset"):
        na.scan_comments(tmp_path)


DAMAGES = {
    "not parquet": lambda data: b"garbage\n",
    "cut short": lambda data: data[:-20],
    "footer length": lambda data: data[:-8] + b"\xff\xff\xff\x7f" + data[-4:],
    "pages flipped": lambda data: data[:100] + bytes(b ^ 0xFF for b in data[100:400]) + data[400:],
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_dataset_file_is_a_database_error_naming_it(corpus, nico, damage):
    _, directory = corpus
    victim = sorted(directory.rglob("*.parquet"))[-1]
    victim.write_bytes(DAMAGES[damage](victim.read_bytes()))
    with pytest.raises(DatabaseError, match="is damaged or not a Parquet file") as caught:
        na.comments_per_month(na.scan_comments(directory))
    assert str(victim) in str(caught.value)
    for arguments in (["--all"], ["sm12"]):
        result = nico("analyze", "--dataset", directory, *arguments)
        assert result.exit_code == 7, result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"Error: cannot read the dataset {directory}: {victim} is damaged")
    with pytest.raises(DatabaseError):
        na.load_comments(directory)


@pytest.fixture
def corpus(tmp_path):
    """SQLite and a dataset by month holding the same NII files (several videos, years)."""
    from nicocomments import store
    from nicocomments.convert import convert_files
    from nicocomments.ingest import import_files
    from tests.conftest import fixture_path

    files = [
        fixture_path("interchange/sm10.jsonl"),
        fixture_path("interchange/sm11.dat"),
        fixture_path("nii/sm12.jsonl"),
    ]
    engine = store.open_db(str(tmp_path / "nico.db"))
    assert all(r.error is None for r in import_files(engine, files))
    list(convert_files(files, tmp_path / "ds", by="month"))
    yield engine, tmp_path / "ds"
    engine.dispose()


CORPUS = {
    "months": na.comments_per_month,
    "videos": lambda x: na.busiest_videos(x, 2),
    "comments": lambda x: na.common_comments(x, 5),
    "highlights": lambda x: na.video_highlights(x, videos=3, n=2, bin="1s", min_score=0),
}


@pytest.mark.parametrize("name", list(CORPUS))
@pytest.mark.parametrize("tz", ["UTC", na.JAPAN])
def test_corpus_analyses_agree(corpus, name, tz):
    db, directory = corpus
    expected = CORPUS[name](na.load_comments(db, tz=tz))
    got = CORPUS[name](na.scan_comments(directory, tz=tz))
    assert_frame_equal(got, expected)
    assert len(expected)


def test_corpus_months_span_the_years(corpus):
    db, directory = corpus
    months = na.comments_per_month(na.scan_comments(directory, tz=na.JAPAN))
    assert [m.strftime("%Y-%m") for m in months.index] == ["2008-01", "2018-01"]
    assert months["comments"].tolist()[0] == 2  # sm11.dat, the 2012 release's shape
    assert months["comments"].sum() == len(na.load_comments(db))


def test_cli_analyze_dataset(corpus, nico):
    db, directory = corpus
    result = nico("analyze", "--dataset", directory, "--all", "--format", "json")
    assert result.exit_code == 0, result.output
    import json

    payload = json.loads(result.stdout)
    assert [v["video_id"] for v in payload["videos"]] == ["sm12", "sm10", "sm11"]
    assert payload["months"][0] == {"month": "2008-01", "comments": 2}
    result = nico("analyze", "sm10", "--dataset", directory, "--format", "json")
    assert result.exit_code == 0, result.output
    expected = na.summarize_video(db, "sm10", tokenizer="auto").summary
    assert json.loads(result.stdout) == json.loads(json.dumps(expected, default=str))
    result = nico("analyze", "sm99", "--dataset", directory)
    assert result.exit_code == 4 and "sm99 is not in the dataset" in result.stderr
    result = nico("analyze", "--all")
    assert result.exit_code == 2 and "--all analyses a whole dataset" in result.stderr


def test_load_comments_reads_through_adbc(analysis_db, monkeypatch):
    from nicocomments.analysis import load

    tables = []
    real = load.adbc_table
    monkeypatch.setattr(load, "adbc_table", lambda *a: tables.append(real(*a)) or tables[-1])
    through_arrow = na.load_comments(analysis_db, "sm1", include_deleted=True)
    assert len(tables) == 1 and tables[0] is not None and tables[0].num_rows == 19
    with analysis_db.connect() as connection:  # a caller's connection: read as before
        through_driver = na.load_comments(connection, "sm1", include_deleted=True)
    assert len(tables) == 1
    assert_frame_equal(through_arrow, through_driver)


def test_adbc_sqlite_types_columns_from_every_row(tmp_path):
    """SQLite's ADBC driver types a column from the rows it has seen: a user id first seen
    after thousands of NULLs must still be text."""
    from nicocomments import store
    from nicocomments.records import Comment

    path = str(tmp_path / "nico.db")
    engine = store.open_db(path)
    comments = [
        Comment("1", "main", no, 0, 1_600_000_000, "x", user_id=None if no < 5000 else "u9")
        for no in range(1, 5011)
    ]
    with engine.begin() as connection:
        store.ensure_video(connection, "sm1", store.now_utc())
        store.save_comments(connection, "sm1", None, comments)
    frame = na.load_comments(engine, "sm1")
    engine.dispose()
    assert frame["user_id"].dtype == "string" and frame["user_id"].iloc[-1] == "u9"
    assert frame["user_id"].isna().sum() == 4999


def test_adbc_errors_are_database_errors(tmp_path):
    """A database the ADBC driver cannot read (damaged pages past the header) is a
    DatabaseError (exit 7) naming it, as through SQLAlchemy, not the driver's own error."""
    import sqlite3

    import sqlalchemy

    from nicocomments import store
    from nicocomments.errors import ExitStatus
    from nicocomments.records import Comment

    path = tmp_path / "nico.db"
    engine = store.open_db(str(path))
    comments = [
        Comment("1", "main", no, no, 1_600_000_000 + no, "x" * 200) for no in range(1, 20_000)
    ]
    with engine.begin() as connection:
        store.ensure_video(connection, "sm1", store.now_utc())
        store.save_comments(connection, "sm1", None, comments)
    engine.dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3 * 4096] = bytes(b ^ 0x5A for b in data[middle : middle + 3 * 4096])
    path.write_bytes(data)
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(DatabaseError, match="damaged or not an SQLite database") as caught:
            na.load_comments(engine)
    finally:
        engine.dispose()
    assert caught.value.exit_status == ExitStatus.DATABASE and str(path) in str(caught.value)
    assert "malformed" in str(caught.value)


@pytest.mark.parametrize(
    "tz", ["UTC", na.JAPAN, "America/New_York", "Europe/London", "Asia/Kathmandu"]
)
def test_months_agree_around_every_zones_month_starts(tmp_path, tz):
    """Months of a dataset (counted per fixed offset, or per quarter hour of UTC in zones
    with daylight saving time) are pandas' months in the zone, to the second around each
    local month start (and across the clock changes)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from nicocomments.formats import dataset
    from nicocomments.records import Comment

    zone = ZoneInfo(tz)
    times = []
    for year in (2008, 2015, 2024):
        for month in range(1, 13):
            start = int(datetime(year, month, 1, tzinfo=zone).timestamp())
            times += [start - 1, start, start + 1, start + 899, start + 900]
        for clock_change in (datetime(year, 3, 30, 1, 30), datetime(year, 11, 2, 1, 59)):
            at = int(clock_change.replace(tzinfo=zone).timestamp())
            times += [at + delta for delta in range(-3600, 3601, 900)]
    comments = [Comment("sm9", "main", no, 0, t, "x") for no, t in enumerate(times, 1)]
    with dataset.connect() as connection:
        dataset.write_comments(
            connection, dataset.arrow_batches("sm9", comments), tmp_path, by="month", unit="u"
        )
    frame = pd.DataFrame(
        {"posted_at": pd.to_datetime(times, unit="s", utc=True).tz_convert(tz)}
    ).astype({"posted_at": pd.DatetimeTZDtype("ns", tz)})
    got = na.comments_per_month(na.scan_comments(tmp_path, tz=tz))
    assert_frame_equal(got, na.comments_per_month(frame))
    assert got["comments"].sum() == len(times)
    assert (scan.fixed_offset_s(tz) is None) == (tz not in ("UTC", na.JAPAN, "Asia/Kathmandu"))


def test_unknown_zone_is_left_to_duckdb():

    assert scan.fixed_offset_s("Not/AZone") is None


def test_a_dataset_with_nothing_written_yet_is_bad_input(nico, tmp_path):
    """A manifest and no files (an import that wrote nothing yet): exit 2 saying so, not a
    damaged file (exit 7)."""
    (tmp_path / "_nico_manifest.json").write_text('{"by": "month", "units": {}}')
    with pytest.raises(BadInput, match="holds no comments yet"):
        na.scan_comments(tmp_path)
    for args in (("--all",), ("sm9",)):
        result = nico("analyze", *args, "--dataset", tmp_path)
        assert result.exit_code == 2 and "holds no comments yet" in result.stderr


def test_a_dataset_written_before_the_live_columns_still_reads(both):
    """Files without `message_id`, `is_overflowed` and `name` (datasets made before live
    comments kept them): the same frame and analyses, those columns empty."""
    import pyarrow.parquet as pq

    from nicocomments.formats.dataset import FILE_GLOB, LIVE_COLUMNS

    db, directory = both
    files = sorted(directory.glob(FILE_GLOB))
    assert files
    for path in files:
        table = pq.read_table(path)
        assert set(LIVE_COLUMNS) <= set(table.column_names)
        pq.write_table(table.drop_columns(list(LIVE_COLUMNS)), path)
    expected = na.load_comments(db, "sm1")
    got = na.load_comments(directory, "sm1")
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    assert got[list(LIVE_COLUMNS)].isna().all().all()
    assert_frame_equal(got.drop(columns="run_id"), expected.drop(columns="run_id"))
    scan = na.scan_comments(directory, "sm1")
    assert_frame_equal(na.density(scan, bin="10s"), na.density(expected, bin="10s"))


@pytest.mark.parametrize("x", [-9, -8, -7, -1, 0, 1, 7, 8, 9, -(2**62), 2**62])
def test_buckets_are_floors_below_zero_too(x):
    """Months are counted per day (or quarter hour) bucket; DuckDB's ``//`` rounds toward
    zero, which would put the last moments before 1970 in the bucket after them."""
    got = duckdb.sql(f"SELECT {scan._floor_div(str(x), 4)}").fetchall()[0][0]
    assert got == x // 4


@pytest.mark.parametrize(
    ("hours", "period"), [(1, "minute"), (23.9, "minute"), (24, "hour"), (71, "hour"), (72, "day")]
)
def test_posting_activity_period_follows_the_posts_not_the_days_they_fall_on(
    tmp_path, hours, period
):
    """Comments from 23:30 Japan time for ``hours``: posting activity per minute under a day
    of posts, per hour under three days, then per day, the same for a frame and a dataset.
    An hour across midnight is an hour (it was drawn per hour: it falls on two days)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from nicocomments.analysis.report import _activity_chart, activity_period, posting_span
    from nicocomments.formats import dataset
    from nicocomments.records import Comment

    start = int(datetime(2024, 5, 1, 23, 30, tzinfo=ZoneInfo(na.JAPAN)).timestamp())
    times = [start, start + int(hours * 3600) // 2, start + int(hours * 3600)]
    comments = [Comment("lv1", "live", no, 0, t, "x") for no, t in enumerate(times, 1)]
    with dataset.connect() as connection:
        dataset.write_comments(
            connection, dataset.arrow_batches("lv1", comments), tmp_path, by="month", unit="u"
        )
    frame = pd.DataFrame(
        {"posted_at": pd.to_datetime(times, unit="s", utc=True).tz_convert(na.JAPAN)}
    )
    for viewers in (frame, na.scan_comments(tmp_path, tz=na.JAPAN, forks=("live",))):
        span = posting_span(viewers)
        assert span == pd.Timedelta(seconds=times[-1] - times[0])
        assert activity_period(span)[1] == period
        chart = _activity_chart(viewers)
        assert chart.title == f"Posting activity per {period} (drag to zoom)"
        assert sum(chart.figure.data[0].y) == len(times)
    assert posting_span(frame.iloc[:0]) == pd.Timedelta(0)
