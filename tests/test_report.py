"""`nico report`: the HTML page (self-contained, escaped, one section per video), and the page
rendered by a real browser (headless Chromium) with every chart drawn."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nicocomments import store
from nicocomments.analysis import load_comments, load_observations
from nicocomments.analysis.report import build_report, video_summary, write_report
from nicocomments.records import Comment, ThreadRef, VideoInfo
from tests.conftest import ROOT

THREAD = "1200000000"
CHARTS = ("density", "activity", "commands", "terms", "users")
ARTIFACTS = ROOT / "tests" / "artifacts"  # git-ignored: the screenshots the browser test takes
HOSTILE = "</script><script>alert(1)</script>"


def _comments(video_id: str, count: int, *, burst_at_ms: int) -> list[Comment]:
    """``count`` comments over a 120 s video posted over 30 days, a third of them in a burst
    around ``burst_at_ms`` saying ここすき."""
    out = []
    for no in range(1, count + 1):
        burst = no % 3 == 0
        out.append(
            Comment(
                THREAD + video_id[-1],
                "main",
                no,
                burst_at_ms + (no % 50) * 100 if burst else (no * 7919) % 120_000,
                1_600_000_000 + no * 2_600,
                "ここすき" if burst else ("うぽつ", "草", "きたー！", HOSTILE)[no % 4],
                ("184 red big", "ue", "#00FF00 shita", "")[no % 4],
                user_id=f"u{no % 37}",
                is_anonymous=no % 4 == 0,
                score=0,
                nicoru_count=no % 5,
                source="trunk",
            )
        )
    return out


def make_db(path: Path | str) -> Path | str:
    """Two videos; sm2 fetched twice, the second time with deletions and nicoru changes (``path``:
    an SQLite file or a database URL)."""
    engine = store.open_db(str(path))
    for video_id, burst in (("sm1", 30_000), ("sm2", 90_000)):
        refs = (ThreadRef(THREAD + video_id[-1], "main", "default"),)
        with engine.begin() as connection:
            info = VideoInfo(video_id, refs, title=f"テスト動画 {video_id}", duration_s=120)
            store.upsert_video(connection, info, store.now_utc())
            store.upsert_threads(connection, video_id, refs)
        batch = _comments(video_id, 600, burst_at_ms=burst)
        for changed in (False, True):
            if changed and video_id == "sm1":
                continue
            if changed:
                batch = [
                    c._replace(is_deleted=True, content="", nicoru_count=None, score=None)
                    if c.no % 40 == 0
                    else c._replace(nicoru_count=c.nicoru_count + 3)
                    if c.no % 25 == 0
                    else c
                    for c in batch
                ]
            run = store.start_run(engine, video_id=video_id, protocol="legacy", mode="all-history")
            store.save_retrying(
                engine,
                lambda c, b=batch, r=run, v=video_id: store.save_comments(c, v, r, b, observe=True),
            )
            store.finish_run(engine, run, "completed")
    engine.dispose()
    return path


@pytest.fixture(scope="module")
def report_db(tmp_path_factory):
    return make_db(tmp_path_factory.mktemp("report") / "r.db")


def _sections(page: str) -> dict[str, list[str]]:
    sections = {}
    for match in re.finditer(r'<section class="video" id="([^"]+)">(.*?)</section>', page, re.S):
        sections[match.group(1)] = re.findall(r'data-chart="(\w+)"', match.group(2))
    return sections


def test_one_page_per_list_of_videos_self_contained_and_escaped(report_db):
    engine = store.open_db(str(report_db), read_only=True)
    page = build_report(engine, ["sm1", "sm2"], tokenizer="ngram")
    engine.dispose()
    # Self-contained: one inline plotly.js, no script, style or font fetched from anywhere.
    assert page.count('<script type="text/javascript">/**\n* plotly.js') == 1
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import|@font-face", page)
    # The summary links to one section per video; sm2, re-crawled, has the changes chart.
    assert re.findall(r'<a href="#(video-sm\d)">', page) == ["video-sm1", "video-sm2"]
    assert _sections(page) == {"video-sm1": list(CHARTS), "video-sm2": [*CHARTS, "changes"]}
    # Highlights carry their top comments for the hover.
    assert "ここすき ×" in page
    # What the server sent never becomes markup.
    assert HOSTILE not in page and "テスト動画 sm1" in page
    assert "system-ui" in page and "Hiragino Sans" in page  # the reader's own fonts


def test_the_page_is_written_as_it_is_made(report_db, tmp_path):
    """Head and summary first, then each video's section as soon as its charts are drawn: a
    report of many videos holds one video's charts at a time. The page is the same."""
    target = tmp_path / "streamed.html"
    written: dict[str, str] = {}
    engine = store.open_db(str(report_db), read_only=True)
    with target.open("w", encoding="utf-8") as out:

        def charting(video_id: str) -> None:
            out.flush()
            written[video_id] = target.read_text(encoding="utf-8")

        write_report(engine, ["sm1", "sm2"], out, tokenizer="ngram", progress=charting)
    whole = build_report(engine, ["sm1", "sm2"], tokenizer="ngram")
    engine.dispose()
    assert target.read_text(encoding="utf-8") == whole
    assert written["sm1"] == whole[: whole.index('<section class="video"')]
    assert '<table class="summary"' in written["sm1"]
    assert list(_sections(written["sm2"])) == ["video-sm1"]
    assert "video-sm2-density" not in written["sm2"]


def test_the_summary_rows_count_what_the_charts_load(db_target):
    """The summary is counted by the database before any chart (SQLite and PostgreSQL): the
    same numbers the comments' frame gives."""
    engine = store.open_db(str(make_db(db_target)), read_only=True)
    with engine.connect() as connection:
        for video_id in ("sm1", "sm2"):
            _check_summary(connection, video_id)
    engine.dispose()


def _check_summary(connection, video_id: str) -> None:
    row = video_summary(connection, video_id, tz="Asia/Tokyo")
    frame = load_comments(
        connection, video_id, forks=store.FORK_ORDER, include_deleted=True, tz="Asia/Tokyo"
    )
    observations = load_observations(connection, video_id)
    viewers = frame[(frame["fork"] != "owner") & ~frame["is_deleted"]]
    assert row == {
        "video_id": video_id,
        "title": f"テスト動画 {video_id}",
        "comments": len(frame),
        "deleted": int(frame["is_deleted"].sum()),
        "users": int(viewers["user_id"].nunique()),
        "first_posted_at": frame["posted_at"].min().date().isoformat(),
        "last_posted_at": frame["posted_at"].max().date().isoformat(),
        "length": "2:00",
        "changes_seen": int(observations["comment_row_id"].nunique()),
    }
    assert row["deleted"] == (15 if video_id == "sm2" else 0)


def test_nico_report_command(nico, report_db, tmp_path):
    target = tmp_path / "out.html"
    result = nico("report", "sm2", "-o", target, "--tokenizer", "ngram", "--db", report_db)
    assert result.exit_code == 0, result.stderr
    assert "Wrote the report of 1 video(s)" in result.stderr
    assert list(_sections(target.read_text())) == ["video-sm2"]
    assert not target.with_name("out.html.part").exists()
    every = nico("report", "--all", "-o", tmp_path / "all.html", "--db", report_db)
    assert every.exit_code == 0 and len(_sections((tmp_path / "all.html").read_text())) == 2
    for args, code, message in (
        ((), 2, "give videos, --all or --collection"),
        (("sm1", "--all"), 2, "(one of them)"),
        (("sm404",), 4, "sm404 is not in"),
        (("sm1", "-o", tmp_path), 2, "is a directory"),
    ):
        failed = nico("report", *args, "--db", report_db)
        assert failed.exit_code == code and message in failed.stderr, (args, failed.stderr)
        assert failed.stderr.startswith("Error: ")


def test_only_the_busiest_videos_get_a_section(nico, tmp_path):
    """--top N: the table lists every video, only the N busiest get a section (linked), and the
    page says so; without it, every video gets one."""
    db = tmp_path / "three.db"
    engine = store.open_db(str(db))
    for video_id, count in (("sm1", 100), ("sm2", 300), ("sm3", 200)):
        with engine.begin() as connection:
            store.ensure_video(connection, video_id, store.now_utc())
            comments = _comments(video_id, count, burst_at_ms=30_000)
            store.save_comments(connection, video_id, None, comments)
    engine.dispose()

    def page_of(*args: str) -> str:
        out = tmp_path / "page.html"
        result = nico("report", *args, "-o", out, "--tokenizer", "ngram", "--db", db)
        assert result.exit_code == 0, result.stderr
        return out.read_text(encoding="utf-8")

    page = page_of("sm1", "sm2", "sm3", "--top", "2")
    assert list(_sections(page)) == ["video-sm2", "video-sm3"]  # in the table's order
    assert re.findall(r'<a href="#(video-sm\d)">', page) == ["video-sm2", "video-sm3"]
    assert "<td>sm1</td>" in page and "The 2 busiest have a section (--top 2)" in page
    assert len(_sections(page_of("sm1", "sm2", "sm3"))) == 3
    assert len(_sections(page := page_of("--all"))) == 3 and "busiest" not in page
    page = page_of("--all", "--top", "1")
    assert list(_sections(page)) == ["video-sm2"]
    assert "The busiest video has a section (--top 1)" in page


# --- in a real browser -----------------------------------------------------------------------

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser() -> str:
    """Debian's chromium: required in CI (.ci/run installs it), a skip only elsewhere."""
    if BROWSER is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI: .ci/run installs Debian's chromium")
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    return BROWSER


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root in a container
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--virtual-time-budget=20000",  # run the page's scripts to the end before dumping
    "--enable-logging=stderr",
    "--v=0",
)


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BROWSER, *CHROMIUM_FLAGS, f"--user-data-dir={cwd / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
    )


def drawn_charts(dom: str) -> dict[str, int]:
    """Each chart's id → how many shapes Plotly drew into its traces' SVG (0: not drawn). A
    path that only moves the pen (``M498,125.5``: a line through one point) draws nothing."""
    import lxml.html

    root = lxml.html.fromstring(dom)
    out = {}
    for div in root.xpath('//div[@data-chart]//div[contains(@class, "plotly-graph-div")]'):
        svg = div.xpath('.//svg[contains(@class, "main-svg")]')
        paths = div.xpath('.//g[contains(concat(" ", @class, " "), " trace ")]//path[@d]')
        painted = [p for p in paths if re.search(r"[LHVCSQTAZlhvcsqtaz]", p.get("d"))]
        out[div.get("id")] = len(painted) if svg else 0
    return out


def console_errors(log: str) -> list[str]:
    """The page's console errors and uncaught exceptions, as Chromium logs them."""
    return [
        line
        for line in log.splitlines()
        if "CONSOLE" in line and ("Uncaught" in line or ":ERROR:" in line or "Error" in line)
    ]


@pytest.mark.usefixtures("browser")
def test_the_report_draws_every_chart_in_headless_chromium(report_db, tmp_path):
    page = tmp_path / "report.html"
    engine = store.open_db(str(report_db), read_only=True)
    page.write_text(build_report(engine, ["sm1", "sm2"], tokenizer="ngram"), encoding="utf-8")
    engine.dispose()
    url = page.resolve().as_uri()
    dumped = chromium("--dump-dom", url, cwd=tmp_path)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    charts = drawn_charts(dumped.stdout)
    expected = {f"video-sm1-{c}" for c in CHARTS} | {f"video-sm2-{c}" for c in (*CHARTS, "changes")}
    assert set(charts) == expected
    assert all(painted > 0 for painted in charts.values()), charts
    assert console_errors(dumped.stderr) == []
    shot = tmp_path / "report.png"
    taken = chromium("--window-size=1200,2400", f"--screenshot={shot}", url, cwd=tmp_path)
    assert taken.returncode == 0 and shot.stat().st_size > 20_000, taken.stderr[-2000:]
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "report.png")


@pytest.mark.usefixtures("browser")
def test_the_browser_check_fails_when_charts_do_not_draw(report_db, tmp_path):
    """The same check on a page whose plotly.js is missing: nothing is drawn, and it says so."""
    engine = store.open_db(str(report_db), read_only=True)
    page = build_report(engine, ["sm1"], tokenizer="ngram")
    engine.dispose()
    broken = re.sub(
        r"<script type=\"text/javascript\">/\*\*\n\* plotly\.js.*?</script>",
        "",
        page,
        count=1,
        flags=re.S,
    )
    assert len(broken) < len(page) / 2
    path = tmp_path / "broken.html"
    path.write_text(broken, encoding="utf-8")
    dumped = chromium("--dump-dom", path.resolve().as_uri(), cwd=tmp_path)
    charts = drawn_charts(dumped.stdout)
    assert charts and not any(charts.values())
    assert console_errors(dumped.stderr)  # "Plotly is not defined"


@pytest.mark.slow
@pytest.mark.usefixtures("browser")
def test_the_report_of_the_demo_database_draws(sandbox, nico, tmp_path):
    """`nico demo`'s database, every video of it, through the command."""
    db = tmp_path / "nico-demo.db"
    assert nico("demo", "--db", db).exit_code == 0
    page = tmp_path / "demo.html"
    result = nico("report", "--all", "-o", page, "--db", db)
    assert result.exit_code == 0, result.stderr
    dumped = chromium("--dump-dom", page.resolve().as_uri(), cwd=tmp_path)
    charts = drawn_charts(dumped.stdout)
    assert len(charts) >= len(CHARTS) and all(charts.values()), charts
    assert console_errors(dumped.stderr) == []


# --- a live program -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_db(tmp_path_factory):
    """`nico demo --live`'s database: lv1001 on air, lv1002 ended (fork live, no owner
    thread, vpos 0 before the program begins), fetched from the emulator."""
    from typer.testing import CliRunner

    from nicocomments.cli import app

    db = tmp_path_factory.mktemp("live") / "live.db"
    result = CliRunner().invoke(app, ["demo", "--live", "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return db


def test_a_live_programs_charts_cover_the_whole_program(live_db):
    """Density runs from vpos 0 (before the program begins) to its end, not for
    ``duration_s`` (end − begin) only, which left its last minutes out; posting activity of a
    one-hour program is per minute, not a single day."""
    from sqlalchemy import text

    from nicocomments.analysis.report import video_charts, video_summary

    engine = store.open_db(str(live_db), read_only=True)
    with engine.connect() as connection:
        stored, late = connection.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE vpos_ms > 1000 * duration_s) "
                "FROM comments JOIN videos USING (video_id) WHERE video_id = 'lv1002'"
            )
        ).one()
        row = video_summary(connection, "lv1002")
        charts = video_charts(connection, "lv1002", tokenizer="ngram")
    engine.dispose()
    assert late > 0  # comments past end − begin: the program's last minutes
    by_key = {chart.key: chart for chart in charts}
    assert list(by_key) == list(CHARTS) and row["comments"] == stored
    bars = by_key["density"].figure.data[0]
    assert sum(bars.y) == stored
    # Positions of a program are its time (from its vpos base), not a video's.
    assert by_key["density"].title == "Comment density over program time, highlights marked"
    assert by_key["density"].figure.layout.xaxis.title.text == "program time"
    activity = by_key["activity"]
    assert activity.title == "Posting activity per minute (drag to zoom)"
    assert sum(activity.figure.data[0].y) == stored and len(activity.figure.data[0].y) > 30


@pytest.mark.usefixtures("browser")
def test_the_report_of_a_live_program_draws_in_headless_chromium(nico, live_db, tmp_path):
    page = tmp_path / "live.html"
    result = nico("report", "--all", "-o", page, "--tokenizer", "ngram", "--db", live_db)
    assert result.exit_code == 0, result.stderr
    dumped = chromium("--dump-dom", page.resolve().as_uri(), cwd=tmp_path)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    charts = drawn_charts(dumped.stdout)
    assert set(charts) == {f"video-{p}-{c}" for p in ("lv1001", "lv1002") for c in CHARTS}
    assert all(painted > 0 for painted in charts.values()), charts
    assert console_errors(dumped.stderr) == []


def test_nico_analyze_keeps_a_live_programs_last_minutes_inside(live_db):
    """`nico analyze` (summarize_video) measures a program as the report draws it, from vpos
    0 to its end: nothing of lv1002 lies "after the end"."""
    from nicocomments.analysis import summarize_video

    engine = store.open_db(str(live_db), read_only=True)
    try:
        result = summarize_video(engine, "lv1002", tokenizer="ngram")
    finally:
        engine.dispose()
    assert result.summary["outside_video"]["after_end"] == 0
    assert int(result.density["comments"].sum()) == result.summary["comments"]
