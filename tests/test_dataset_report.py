"""`nico report --dataset`: the report of a Parquet dataset, its numbers the same as the database
report's of the same comments, capped for big corpora, and drawn by headless Chromium."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from nicocomments import store
from nicocomments.analysis import dataset_report
from nicocomments.records import ThreadRef, VideoInfo
from tests.test_report import (  # noqa: F401 (browser: the fixture)
    CHARTS,
    _comments,
    _sections,
    browser,
    chromium,
    console_errors,
    drawn_charts,
    make_db,
)


@pytest.fixture(scope="module")
def databases(tmp_path_factory):
    """test_report's two videos plus sm3, the busiest (900 comments), in a database and in the
    dataset `nico export --partitioned` makes of it."""
    from typer.testing import CliRunner

    from nicocomments.cli import app

    root = tmp_path_factory.mktemp("dataset-report")
    db = make_db(root / "r.db")
    engine = store.open_db(str(db))
    refs = (ThreadRef("12000000003", "main", "default"),)
    with engine.begin() as connection:
        store.upsert_video(connection, VideoInfo("sm3", refs, duration_s=120), store.now_utc())
        store.upsert_threads(connection, "sm3", refs)
    run = store.start_run(engine, video_id="sm3", protocol="legacy", mode="all-history")
    batch = _comments("sm3", 900, burst_at_ms=60_000)
    store.save_retrying(engine, lambda c: store.save_comments(c, "sm3", run, batch))
    store.finish_run(engine, run, "completed")
    engine.dispose()
    directory = root / "comments"
    exported = CliRunner().invoke(
        app,
        ["export", "--format", "parquet", "--partitioned", str(directory), "--db", str(db)],
        catch_exceptions=False,
    )
    assert exported.exit_code == 0, exported.stderr
    return db, directory


def summary_rows(page: str) -> dict[str, list[str]]:
    """The summary table: video → its cells (the database's title, length and changes
    columns left out, which a dataset does not have)."""
    table = re.search(r'<table class="summary[^"]*" id="top">(.*?)</table>', page, re.S).group(1)
    heads = re.findall(r"<th>(.*?)</th>", table)
    rows = {}
    for cells in re.findall(r"<tr>(<td>.*?)</tr>", table):
        values = dict(zip(heads, re.findall(r"<td>(.*?)</td>", cells), strict=True))
        video = re.sub(r"<[^>]+>", "", values.pop("video"))
        rows[video] = [values[h] for h in ("comments", "deleted", "users")] + [
            values[h] for h in ("first posted", "last posted")
        ]
    return rows


def chart_data(page: str) -> dict[str, list[dict]]:
    """Each chart's id → its Plotly traces, as inlined in the page."""
    out = {}
    decoder = json.JSONDecoder()
    for match in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', page):
        out[match.group(1)], _ = decoder.raw_decode(page, match.end())
    return out


def test_the_dataset_report_agrees_with_the_database_report(nico, databases, tmp_path, monkeypatch):
    db, directory = databases
    # Nothing is loaded whole: the analyses run on the dataset's CommentScan, DuckDB counting.
    for module in ("scan", "load"):  # load_comments on a dataset goes through it
        monkeypatch.setattr(
            f"nicocomments.analysis.{module}.arrow_comments",
            lambda *a, **k: pytest.fail("the dataset report loaded the comments into a frame"),
        )
    from_db, from_dataset = tmp_path / "db.html", tmp_path / "dataset.html"
    result = nico("report", "--all", "-o", from_db, "--tokenizer", "ngram", "--db", db)
    assert result.exit_code == 0, result.stderr
    result = nico(
        "report", "--dataset", directory, "--all", "-o", from_dataset, "--tokenizer", "ngram"
    )
    assert result.exit_code == 0, result.stderr
    assert "Wrote the report of 3 video(s), 3 charted, to" in result.stderr
    page, reference = from_dataset.read_text(), from_db.read_text()
    # One row per video, busiest first, each linking to its section; the same numbers.
    rows = summary_rows(page)
    assert list(rows) == ["sm3", "sm1", "sm2"]
    assert rows == summary_rows(reference)
    assert rows["sm2"] == ["600", "15", "37", "2020-09-13", "2020-10-01"]
    assert re.findall(r'<a href="#(video-sm\d)">', page) == ["video-sm3", "video-sm1", "video-sm2"]
    # The same sections but the re-crawl changes, which only the database keeps; the page says so.
    assert _sections(page) == {f"video-{v}": list(CHARTS) for v in ("sm3", "sm1", "sm2")}
    assert _sections(reference)["video-sm2"] == [*CHARTS, "changes"]
    assert "A dataset keeps comments only, so titles, video lengths" in page
    assert "テスト動画" not in page and "テスト動画 sm1" in reference
    # Every chart draws the same data (the hover's top comments of each highlight included).
    charts, expected = chart_data(page), chart_data(reference)
    assert set(charts) == {f"video-{v}-{c}" for v in ("sm1", "sm2", "sm3") for c in CHARTS}
    for key, traces in charts.items():
        assert traces == expected[key], key
    assert "ここすき ×" in page
    # Self-contained, as the database report.
    assert page.count('<script type="text/javascript">/**\n* plotly.js') == 1
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import|@font-face", page)


def test_given_videos_keep_their_order_and_top_caps_the_sections(nico, databases, tmp_path):
    _, directory = databases
    page = tmp_path / "two.html"
    result = nico(
        "report", "--dataset", directory, "sm2", "sm1", "-o", page, "--tokenizer", "ngram"
    )
    assert result.exit_code == 0, result.stderr
    assert list(summary_rows(page.read_text())) == ["sm2", "sm1"]
    assert list(_sections(page.read_text())) == ["video-sm2", "video-sm1"]
    one = nico(
        "report", "--dataset", directory, "sm1", "--tokenizer", "ngram", "-o", tmp_path / "x"
    )
    assert one.exit_code == 0 and list(_sections((tmp_path / "x").read_text())) == ["video-sm1"]
    # --top 2: the two busiest get a section (sm1 before sm2: equal counts, by id); every
    # video keeps its row, the others without a link, and the page says why.
    capped = tmp_path / "capped.html"
    result = nico(
        "report",
        "--dataset",
        directory,
        "--all",
        "--top",
        "2",
        "-o",
        capped,
        "--tokenizer",
        "ngram",
    )
    assert result.exit_code == 0 and "3 video(s), 2 charted" in result.stderr
    text = capped.read_text()
    assert list(summary_rows(text)) == ["sm3", "sm1", "sm2"]
    assert list(_sections(text)) == ["video-sm3", "video-sm1"]
    assert "<tr><td>sm2</td>" in text
    assert "The 2 busiest have a section (--top 2)" in text


def test_the_summary_table_of_a_big_corpus_is_capped(nico, databases, tmp_path, monkeypatch):
    """A corpus of 100,000 videos lists the busiest `SUMMARY_ROWS`, not every video."""
    _, directory = databases
    monkeypatch.setattr(dataset_report, "SUMMARY_ROWS", 2)
    page = tmp_path / "big.html"
    result = nico("report", "--dataset", directory, "--all", "--top", "1", "-o", page)
    assert result.exit_code == 0, result.stderr
    text = page.read_text()
    assert list(summary_rows(text)) == ["sm3", "sm1"] and list(_sections(text)) == ["video-sm3"]
    assert "The table lists the 2 busiest of the 3 videos." in text
    assert "The busiest video has a section (--top 1)" in text
    assert "2,100 comments of 3 video(s)" in text


def test_bad_dataset_reports_fail_with_one_line_and_write_nothing(nico, databases, tmp_path):
    db, directory = databases
    (tmp_path / "empty").mkdir()
    (tmp_path / "unwritten").mkdir()  # a dataset's manifest, no file written yet
    (tmp_path / "unwritten" / "_nico_manifest.json").write_text('{"by": "video", "units": {}}')
    target = tmp_path / "out.html"
    for args, code, message in (
        (("--dataset", tmp_path / "nowhere", "--all"), 2, "no such dataset directory"),
        (("--dataset", tmp_path / "empty", "--all"), 2, "not a comment dataset"),
        (("--dataset", tmp_path / "unwritten", "--all"), 2, "holds no comments"),
        (("--dataset", directory, "sm404"), 4, "sm404 is not in the dataset"),
        (("--dataset", directory, "sm1", "sm404", "sm405"), 4, "sm404 (and 1 more) is not in"),
        (("--dataset", directory, "--collection", "user/1"), 2, "--dataset and --collection"),
        (("--dataset", directory, "--all", "--db", db), 2, "leave out --db"),
        (("--dataset", directory), 2, "give videos or --all with --dataset"),
        (("--dataset", directory, "sm1", "--all"), 2, "(one of them)"),
        (("sm1", "--top", "0", "--db", db), 2, "--top"),
        (("--dataset", directory, "--all", "-o", tmp_path), 2, "is a directory"),
        # Bad options are bad input (they were exit 1, "a bug"), told before anything is drawn.
        (("--dataset", directory, "--all", "--tz", "Nowhere/Zone"), 2, "unknown time zone"),
        (("sm1", "--tz", "Nowhere/Zone", "--db", db), 2, "unknown time zone"),
        (("--dataset", directory, "--all", "--bin", "abc"), 2, "bin must be a duration"),
        (("sm1", "--bin", "abc", "--db", db), 2, "bin must be a duration"),
        (("--dataset", directory, "sm1", "--tokenizer", "nope"), 2, "unknown tokenizer"),
        (("sm1", "--tokenizer", "nope", "--db", db), 2, "unknown tokenizer"),
    ):
        output = () if "-o" in args else ("-o", target)
        failed = nico("report", *args, *output)
        assert failed.exit_code == code, (args, failed.stderr)
        assert failed.stderr.startswith("Error: ") and message in failed.stderr, failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1
        assert not target.exists() and not list(tmp_path.glob("*.part"))


@pytest.mark.usefixtures("browser")
def test_the_dataset_report_draws_every_chart_in_headless_chromium(nico, databases, tmp_path):
    _, directory = databases
    page = tmp_path / "dataset.html"
    result = nico("report", "--dataset", directory, "--all", "-o", page, "--tokenizer", "ngram")
    assert result.exit_code == 0, result.stderr
    dumped = chromium("--dump-dom", page.resolve().as_uri(), cwd=tmp_path)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    charts = drawn_charts(dumped.stdout)
    assert set(charts) == {f"video-{v}-{c}" for v in ("sm1", "sm2", "sm3") for c in CHARTS}
    assert all(painted > 0 for painted in charts.values()), charts
    assert console_errors(dumped.stderr) == []


def test_a_videos_section_reads_its_own_partition_only(nico, databases, tmp_path):
    """In a dataset partitioned by video, a video's charts read ``DIR/video=ID/`` only, not the
    schema of every file of the corpus before each query (seconds each on thousands of
    videos): another video's unreadable file does not concern it."""
    from nicocomments.analysis.scan import scan_comments

    _, directory = databases
    copy = tmp_path / "comments"
    shutil.copytree(directory, copy)
    (copy / "video=sm2" / "zz-not-parquet.parquet").write_bytes(b"not a parquet file")
    assert scan_comments(copy, "sm1").rows("SELECT count(*) FROM {rows}") == [(600,)]
    charts = dataset_report.dataset_video_charts(copy, "sm1", tokenizer="ngram")
    assert [chart.key for chart in charts] == list(CHARTS)
    with pytest.raises(Exception, match="not-parquet"):
        scan_comments(copy, "sm2").rows("SELECT count(*) FROM {rows}")
