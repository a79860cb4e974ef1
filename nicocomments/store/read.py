"""Reading: thread state for resuming, summaries for `nico status`, streams of comments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Connection,
    case,
    cast,
    func,
    select,
)

from nicocomments.records import COMMENT_FIELDS, LIVE_FORK, Comment
from nicocomments.schema import comments, fetch_runs, skipped_seconds, threads, videos

# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadState:
    stored: int
    max_no: int | None
    history_when: int | None
    history_complete: bool
    catchup_when: int | None
    catchup_stop_no: int | None

    def forgotten(self) -> ThreadState:
        """This state once `store.forget_history` has run: what is stored, no walk."""
        return replace(
            self,
            history_when=None,
            history_complete=False,
            catchup_when=None,
            catchup_stop_no=None,
        )


def thread_state(connection: Connection, thread_id: str, fork: str) -> ThreadState:
    key = (comments.c.thread_id == thread_id) & (comments.c.fork == fork)
    stored, max_no = connection.execute(
        select(func.count(), func.max(comments.c.no)).where(key)
    ).one()
    row = connection.execute(
        select(
            threads.c.history_when,
            threads.c.history_complete,
            threads.c.catchup_when,
            threads.c.catchup_stop_no,
        ).where((threads.c.thread_id == thread_id) & (threads.c.fork == fork))
    ).one_or_none()
    if row is None:
        return ThreadState(stored, max_no, None, False, None, None)
    return ThreadState(stored, max_no, row[0], bool(row[1]), row[2], row[3])


@dataclass(frozen=True)
class ThreadSummary:
    video_id: str
    thread_id: str
    fork: str
    label: str | None
    stored: int
    deleted: int
    min_no: int | None
    max_no: int | None
    oldest: datetime | None
    newest: datetime | None
    last_res: int | None
    comment_count: int | None
    history_complete: bool
    history_when: int | None
    history_end: str | None
    skipped: int  # ranges of seconds a walk had to step over
    catchup_when: int | None = None  # set while a catch-up with newer comments is unfinished

    @property
    def complete(self) -> bool:
        """The history is complete: walked to its beginning, and no catch-up with newer
        comments left unfinished (the stretch below what it stored is not read yet)."""
        return self.history_complete and self.catchup_when is None

    @property
    def server_count(self) -> int | None:
        return reported_count(self.comment_count, self.last_res)


def reported_count(comment_count: int | None, last_res: int | None) -> int | None:
    """A thread's size as the server reported it: nvcomment's commentCount, else the legacy
    server's last_res (None if it reported neither)."""
    return comment_count if comment_count is not None else last_res


FORK_ORDER = ("owner", "main", "easy", LIVE_FORK)  # how tables and frames list a video's threads


def fork_order(column):
    """An ORDER BY key putting forks in `FORK_ORDER`."""
    return case({fork: i for i, fork in enumerate(FORK_ORDER)}, value=column, else_=len(FORK_ORDER))


def comment_columns(dialect: str, names: Sequence[str]) -> list:
    """``comments`` columns by name, ``posted_at`` as Unix seconds (cheap to read and convert)."""
    return [
        posted_unix(dialect).label("posted_at") if name == "posted_at" else comments.c[name]
        for name in names
    ]


def thread_summaries(connection: Connection, video_id: str | None = None) -> list[ThreadSummary]:
    """Per thread: what is stored and what the server reported."""
    stored = select(
        comments.c.thread_id,
        comments.c.fork,
        func.count().label("stored"),
        func.sum(case((comments.c.is_deleted, 1), else_=0)).label("deleted"),
        func.min(comments.c.no).label("min_no"),
        func.max(comments.c.no).label("max_no"),
        func.min(comments.c.posted_at).label("oldest"),
        func.max(comments.c.posted_at).label("newest"),
    ).group_by(comments.c.thread_id, comments.c.fork)
    skipped = select(
        skipped_seconds.c.thread_id,
        skipped_seconds.c.fork,
        func.count().label("skipped"),
    ).group_by(skipped_seconds.c.thread_id, skipped_seconds.c.fork)
    if video_id is not None:
        stored = stored.where(comments.c.video_id == video_id)
    stored = stored.subquery()
    skipped = skipped.subquery()
    query = (
        select(threads, stored, skipped.c.skipped)
        .select_from(
            threads.outerjoin(
                stored,
                (stored.c.thread_id == threads.c.thread_id) & (stored.c.fork == threads.c.fork),
            ).outerjoin(
                skipped,
                (skipped.c.thread_id == threads.c.thread_id) & (skipped.c.fork == threads.c.fork),
            )
        )
        .order_by(threads.c.video_id, fork_order(threads.c.fork), threads.c.thread_id)
    )
    if video_id is not None:
        query = query.where(threads.c.video_id == video_id)
    summaries = []
    for row in connection.execute(query).mappings():
        summaries.append(
            ThreadSummary(
                video_id=row["video_id"],
                thread_id=row["thread_id"],
                fork=row["fork"],
                label=row["label"],
                stored=row["stored"] or 0,
                deleted=row["deleted"] or 0,
                min_no=row["min_no"],
                max_no=row["max_no"],
                oldest=row["oldest"],
                newest=row["newest"],
                last_res=row["last_res"],
                comment_count=row["comment_count"],
                history_complete=bool(row["history_complete"]),
                history_when=row["history_when"],
                history_end=row["history_end"],
                skipped=row["skipped"] or 0,
                catchup_when=row["catchup_when"],
            )
        )
    return summaries


def video_rows(connection: Connection, video_id: str | None = None) -> list[dict]:
    query = select(videos).order_by(videos.c.video_id)
    if video_id is not None:
        query = query.where(videos.c.video_id == video_id)
    return [dict(row) for row in connection.execute(query).mappings()]


def run_rows(connection: Connection, video_id: str, limit: int = 10) -> list[dict]:
    query = (
        select(fetch_runs)
        .where(fetch_runs.c.video_id == video_id)
        .order_by(fetch_runs.c.id.desc())
        .limit(limit)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def missing_ranges(
    connection: Connection, thread_id: str, fork: str, server_count: int | None = None
) -> list[tuple[int, int]]:
    """Comment numbers not stored, as (first, last) ranges: between stored numbers, before the
    lowest (down to 1) and after the highest (up to the server's count)."""
    key = (comments.c.thread_id == thread_id) & (comments.c.fork == fork)
    previous = func.lag(comments.c.no).over(order_by=comments.c.no)
    numbered = select(comments.c.no.label("no"), previous.label("previous")).where(key).subquery()
    gaps = connection.execute(
        select(numbered.c.previous + 1, numbered.c.no - 1)
        .where(numbered.c.no - numbered.c.previous > 1)
        .order_by(numbered.c.no)
    ).all()
    lowest, highest = connection.execute(
        select(func.min(comments.c.no), func.max(comments.c.no)).where(key)
    ).one()
    ranges = [(int(a), int(b)) for a, b in gaps]
    if lowest is None:
        return [(1, server_count)] if server_count else []
    if lowest > 1:
        ranges.insert(0, (1, lowest - 1))
    if server_count is not None and server_count > highest:
        ranges.append((highest + 1, server_count))
    return ranges


def served_nos(
    connection: Connection,
    thread_id: str,
    fork: str,
    run_id: int,
    *,
    since: int | None = None,
    until: int | None = None,
) -> list[int]:
    """Numbers of the stored, not deleted comments of a thread a complete pass of ``run_id``
    should have seen: posted between ``since`` and ``until`` (Unix seconds, inclusive; None:
    unbounded), outside the seconds that run had to step over."""
    posted = posted_unix(connection.dialect.name)
    where = (
        (comments.c.thread_id == thread_id)
        & (comments.c.fork == fork)
        & comments.c.is_deleted.is_(False)
    )
    if since is not None:
        where &= posted >= since
    if until is not None:
        where &= posted <= until
    # One NOT EXISTS however many ranges the run stepped over (one condition per range would
    # grow the statement past what the database parses).
    stepped_over = select(skipped_seconds.c.id).where(
        (skipped_seconds.c.thread_id == thread_id)
        & (skipped_seconds.c.fork == fork)
        & (skipped_seconds.c.run_id == run_id)
        & posted.between(skipped_seconds.c.from_second, skipped_seconds.c.to_second)
    )
    where &= ~stepped_over.exists()
    query = select(comments.c.no).where(where).order_by(comments.c.no)
    return list(connection.execute(query).scalars())


def posted_at_of(connection: Connection, thread_id: str, fork: str, no: int) -> int | None:
    """Unix seconds of a stored comment."""
    value = connection.execute(
        select(comments.c.posted_at).where(
            (comments.c.thread_id == thread_id) & (comments.c.fork == fork) & (comments.c.no == no)
        )
    ).scalar()
    return int(value.timestamp()) if value is not None else None


def thread_runs(connection: Connection, thread_id: str, fork: str) -> list[dict]:
    """The runs that stored this thread's comments, and how many each stored first."""
    stored = (
        select(comments.c.run_id, func.count().label("comments"))
        .where((comments.c.thread_id == thread_id) & (comments.c.fork == fork))
        .group_by(comments.c.run_id)
        .subquery()
    )
    query = (
        select(
            fetch_runs.c.id,
            fetch_runs.c.protocol,
            fetch_runs.c.mode,
            fetch_runs.c.status,
            fetch_runs.c.started_at,
            stored.c.comments,
        )
        .join(stored, stored.c.run_id == fetch_runs.c.id)
        .order_by(fetch_runs.c.id)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def video_of_threads(connection: Connection, thread_ids: Sequence[str]) -> str | None:
    """The video these threads are stored under, if any."""
    if not thread_ids:
        return None
    return connection.execute(
        select(threads.c.video_id).where(threads.c.thread_id.in_(list(thread_ids))).limit(1)
    ).scalar()


def server_count(connection: Connection, thread_id: str, fork: str) -> int | None:
    """The thread's size as the server last reported it (commentCount, else last_res)."""
    row = connection.execute(
        select(threads.c.comment_count, threads.c.last_res).where(
            (threads.c.thread_id == thread_id) & (threads.c.fork == fork)
        )
    ).one_or_none()
    return reported_count(*row) if row is not None else None


def video_exists(connection: Connection, video_id: str) -> bool:
    query = select(videos.c.video_id).where(videos.c.video_id == video_id)
    return connection.execute(query).first() is not None


def posted_unix(dialect: str):
    """``comments.posted_at`` as Unix seconds (an integer), computed by the database."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", comments.c.posted_at), BigInteger)
    return cast(func.extract("epoch", comments.c.posted_at), BigInteger)


def iter_comments(
    connection: Connection,
    video_id: str,
    forks: Sequence[str] | None = FORK_ORDER,
    *,
    chunk: int = 5_000,
) -> Iterable[Comment]:
    """A video's comments as `Comment` records, streamed from the database (``chunk`` rows at
    a time), owner thread first, then main and easy (then any other fork, by name), each in
    ``no`` order. ``forks=None``: every fork stored."""
    where = comments.c.video_id == video_id
    if forks is not None:
        where &= comments.c.fork.in_(list(forks))
    query = (
        select(*comment_columns(connection.dialect.name, COMMENT_FIELDS))
        .where(where)
        .order_by(fork_order(comments.c.fork), comments.c.fork, comments.c.thread_id, comments.c.no)
    )
    for row in connection.execution_options(yield_per=chunk).execute(query):
        yield Comment(*row)


def thread_counts(connection: Connection, video_id: str) -> dict[tuple[str, str], int]:
    """Per (thread_id, fork) of a video: the larger of the server's count (`reported_count`)
    and the number of comments stored; the stored number where the server reported none."""
    stored = {
        (thread_id, fork): count
        for thread_id, fork, count in connection.execute(
            select(comments.c.thread_id, comments.c.fork, func.count())
            .where(comments.c.video_id == video_id)
            .group_by(comments.c.thread_id, comments.c.fork)
        )
    }
    reported = connection.execute(
        select(
            threads.c.thread_id, threads.c.fork, threads.c.comment_count, threads.c.last_res
        ).where(threads.c.video_id == video_id)
    )
    for thread_id, fork, comment_count, last_res in reported:
        server = reported_count(comment_count, last_res)
        if server is not None:
            stored[(thread_id, fork)] = max(server, stored.get((thread_id, fork), 0))
    return stored


@dataclass
class StatusReport:
    """What is stored, per thread, against what the server reported (what `nico status` and
    `nico demo` show), read in one go by `status_report`."""

    summaries: list[ThreadSummary]
    videos: dict[str, dict]
    missing: dict[tuple[str, str], list[tuple[int, int]]]
    runs: dict[tuple[str, str], list[dict]]

    def as_json(self) -> list[dict]:
        """One object per thread: its summary, missing ranges and runs (dates as ISO 8601).
        A live program's thread also says whether the stored comments reach its begin time
        (``reached_begin``) and that its missing numbers are ``filtered``: the broadcaster's
        filter removed those comments before they were published (live.md §4)."""
        out = []
        for s in self.summaries:
            item = _summary_dict(
                s, self.missing[(s.thread_id, s.fork)], self.runs[(s.thread_id, s.fork)]
            )
            if s.fork == LIVE_FORK:
                item["missing_are"] = "filtered"
                item["reached_begin"] = self.reached_begin(s)
            out.append(item)
        return out

    def reached_begin(self, summary: ThreadSummary) -> bool:
        """A live program's: whether its walk through the past reached the program's
        beginning. The walk decides that by its one rule (`nicocomments.live.past`) and only
        then marks the history complete, so this is that mark, never a guess from the stored
        comments' dates (a program's first comment comes after its begin time)."""
        return summary.history_complete


def status_report(connection: Connection, video_id: str | None = None) -> StatusReport:
    summaries = thread_summaries(connection, video_id)
    keys = [(s.thread_id, s.fork, s.server_count) for s in summaries]
    return StatusReport(
        summaries=summaries,
        videos={v["video_id"]: v for v in video_rows(connection, video_id)},
        missing={(t, f): missing_ranges(connection, t, f, n) for t, f, n in keys},
        runs={(t, f): thread_runs(connection, t, f) for t, f, _ in keys},
    )


def _summary_dict(s: ThreadSummary, missing: list, runs: list[dict]) -> dict:
    return {
        "video_id": s.video_id,
        "thread_id": s.thread_id,
        "fork": s.fork,
        "label": s.label,
        "stored": s.stored,
        "deleted": s.deleted,
        "min_no": s.min_no,
        "max_no": s.max_no,
        "server_count": s.server_count,
        "last_res": s.last_res,
        "comment_count": s.comment_count,
        "oldest": s.oldest.isoformat() if s.oldest else None,
        "newest": s.newest.isoformat() if s.newest else None,
        "history_complete": s.complete,
        "catching_up": s.catchup_when is not None,
        "history_when": s.history_when,
        "history_end": s.history_end,
        "skipped_ranges": s.skipped,
        "missing": [list(r) for r in missing],
        "runs": [
            {**run, "started_at": run["started_at"].isoformat() if run["started_at"] else None}
            for run in runs
        ],
    }
