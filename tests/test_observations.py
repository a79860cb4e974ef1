"""Change tracking: what re-crawls record in comment_observations (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select

from nicocomments import store
from nicocomments.records import Comment, ThreadRef, VideoInfo
from nicocomments.schema import comment_observations, comments

THREAD = "1173108780"


def _engine(db_target):
    engine = store.open_db(db_target)
    refs = (ThreadRef(THREAD, "main", "default"),)
    with engine.begin() as connection:
        store.upsert_video(connection, VideoInfo("sm9", refs), store.now_utc())
        store.upsert_threads(connection, "sm9", refs)
    return engine


def _comment(no, *, nicoru=0, score=0, deleted=False, source="trunk", fork="main"):
    return Comment(
        THREAD,
        fork,
        no,
        no * 100,
        1_200_000_000 + no,
        "" if deleted else f"コメント{no}",
        is_deleted=deleted,
        deleted_reason=1 if deleted else None,
        score=None if deleted else score,
        nicoru_count=None if deleted else nicoru,
        source=source,
    )


def _crawl(engine, batch):
    run = store.start_run(engine, video_id="sm9", protocol="nvcomment", mode="window")
    added = store.save_retrying(
        engine, lambda c: store.save_comments(c, "sm9", run, batch, observe=True)
    )
    store.finish_run(engine, run, "completed")
    return run, added


def _observations(engine):
    query = (
        select(
            comments.c.no,
            comment_observations.c.run_id,
            comment_observations.c.nicoru_count,
            comment_observations.c.score,
            comment_observations.c.is_deleted,
        )
        .join(comments, comments.c.id == comment_observations.c.comment_row_id)
        .order_by(comment_observations.c.id)
    )
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def _row(engine, no):
    query = select(
        comments.c.nicoru_count,
        comments.c.score,
        comments.c.is_deleted,
        comments.c.content,
        comments.c.source,
    ).where(comments.c.no == no)
    with engine.connect() as connection:
        return tuple(connection.execute(query).one())


def test_an_unchanged_recrawl_adds_no_rows(db_target):
    engine = _engine(db_target)
    batch = [_comment(no, nicoru=no % 3) for no in range(1, 51)]
    _, added = _crawl(engine, batch)
    assert added == 50
    _, added = _crawl(engine, batch)
    assert added == 0
    assert _observations(engine) == []
    engine.dispose()


def test_changes_are_recorded_once_with_the_state_they_changed_from(db_target):
    engine = _engine(db_target)
    first, _ = _crawl(engine, [_comment(1, nicoru=1), _comment(2), _comment(3, score=0)])
    second, added = _crawl(
        engine,
        [_comment(1, nicoru=4), _comment(2), _comment(3, score=-1000), _comment(4)],
    )
    assert added == 1
    assert _observations(engine) == [
        (1, first, 1, 0, False),
        (3, first, 0, 0, False),
        (1, second, 4, 0, False),
        (3, second, 0, -1000, False),
    ]
    assert _row(engine, 1)[:3] == (4, 0, False)
    assert _row(engine, 3)[:3] == (0, -1000, False)
    # The same state again: nothing new.
    _crawl(engine, [_comment(1, nicoru=4), _comment(3, score=-1000)])
    assert len(_observations(engine)) == 4
    # Another change of an observed comment: one row, no second baseline.
    third, _ = _crawl(engine, [_comment(1, nicoru=5)])
    assert _observations(engine)[-1] == (1, third, 5, 0, False)
    assert len(_observations(engine)) == 5
    engine.dispose()


def test_a_deleted_chat_keeps_its_text_and_last_counts(db_target):
    """Legacy lists deleted chats without text or counts: the row keeps what it had."""
    engine = _engine(db_target)
    first, _ = _crawl(engine, [_comment(1, nicoru=2, score=-10)])
    second, _ = _crawl(engine, [_comment(1, deleted=True)])
    assert _observations(engine) == [(1, first, 2, -10, False), (1, second, 2, -10, True)]
    assert _row(engine, 1) == (2, -10, True, "コメント1", "trunk")
    engine.dispose()


def test_a_missing_count_reads_as_zero():
    """Legacy leaves a zero nicoru count or score out: None after 0 is no change."""
    engine = _engine("sqlite://")
    _crawl(engine, [_comment(1, nicoru=0, score=0)])
    _crawl(engine, [_comment(1)._replace(nicoru_count=None, score=None)])
    assert _observations(engine) == []
    engine.dispose()


def test_unserved_comments_are_marked_deleted_once(db_target):
    engine = _engine(db_target)
    first, _ = _crawl(engine, [_comment(no, nicoru=1) for no in range(1, 6)])
    run = store.start_run(engine, video_id="sm9", protocol="nvcomment", mode="all-history")
    changed = store.save_retrying(
        engine, lambda c: store.save_unserved(c, run, THREAD, "main", [2, 4])
    )
    assert changed == 2
    again = store.save_retrying(engine, lambda c: store.save_unserved(c, run, THREAD, "main", [2]))
    assert again == 0
    assert _observations(engine) == [
        (2, first, 1, 0, False),
        (4, first, 1, 0, False),
        (2, run, 1, 0, True),
        (4, run, 1, 0, True),
    ]
    assert _row(engine, 2)[:4] == (1, 0, True, "コメント2")
    with engine.connect() as connection:
        assert store.served_nos(connection, THREAD, "main", run) == [1, 3, 5]
    engine.dispose()


def test_served_nos_leaves_out_any_number_of_skipped_ranges(db_target):
    """A run that stepped over more than a thousand ranges of seconds (SQLite parses at most
    1000 nested conditions): the comments posted in them are left out, the others kept."""
    engine = _engine(db_target)
    _crawl(engine, [_comment(no) for no in range(1, 3001)])
    run = store.start_run(engine, video_id="sm9", protocol="nvcomment", mode="all-history")
    posted = 1_200_000_000  # comment no N was posted at this + N (`_comment`)

    def step_over(connection):
        for k in range(1200):  # the odd numbers up to 2,399, one range each
            second = posted + 2 * k + 1
            store.save_skipped(connection, run, THREAD, "main", (second, second))
        store.save_skipped(connection, run, THREAD, "main", (posted + 2901, posted + 2950))
        # Another run's and another fork's ranges change nothing here.
        store.save_skipped(connection, run - 1, THREAD, "main", (posted, posted + 3000))
        store.save_skipped(connection, run, THREAD, "easy", (posted, posted + 3000))

    store.save_retrying(engine, step_over)
    with engine.connect() as connection:
        served = store.served_nos(connection, THREAD, "main", run)
        bounded = store.served_nos(connection, THREAD, "main", run, since=posted + 2391)
    expected = [no for no in range(1, 3001) if (no % 2 == 0 or no > 2400)]
    expected = [no for no in expected if not 2901 <= no <= 2950]
    assert served == expected
    assert bounded == [no for no in expected if no >= 2391]
    engine.dispose()


def test_raw_sources_and_new_forks_are_stored_as_sent():
    engine = _engine("sqlite://")
    _crawl(engine, [_comment(1, source="nicoru"), _comment(1, fork="ai", source="ai")])
    with engine.connect() as connection:
        rows = connection.execute(
            select(comments.c.fork, comments.c.source).order_by(comments.c.fork)
        ).all()
        assert [tuple(r) for r in rows] == [("ai", "ai"), ("main", "nicoru")]
        assert (
            connection.execute(select(func.count()).select_from(comment_observations)).scalar() == 0
        )
    engine.dispose()


def test_the_parser_keeps_voltage_zone_raw_unless_unkeepable():
    from nicocomments.nvcomment import parse_threads

    thread = {"id": THREAD, "fork": "ai", "commentCount": 0, "comments": []}
    (page,) = parse_threads({"data": {"threads": [thread], "voltageZone": {"b": [1], "a": "é"}}})
    assert page.thread.voltage_zone == '{"a":"é","b":[1]}' and page.thread.fork == "ai"
    deep: object = 1
    for _ in range(400):
        deep = [deep]
    (page,) = parse_threads({"data": {"threads": [thread], "voltageZone": deep}})
    assert page.thread.voltage_zone is None
    (page,) = parse_threads({"data": {"threads": [thread], "voltageZone": "x" * 70_000}})
    assert page.thread.voltage_zone is None
    (page,) = parse_threads({"data": {"threads": [thread]}})
    assert page.thread.voltage_zone is None
