"""Opening, migrating and writing the database.

`open_db` applies the Alembic migrations forward (backing up an SQLite file first), refuses a
database written by a newer nicocomments, and sets SQLite up for safe bulk writes (WAL, a busy
timeout, synchronous=NORMAL, transactional DDL). The ``save_*``/``upsert_*`` functions are
idempotent and take the caller's connection, so the caller decides what one transaction holds.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Integer,
    bindparam,
    case,
    cast,
    create_engine,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from nicocomments import __version__
from nicocomments.errors import BadInput, DatabaseError, SchemaTooNew
from nicocomments.interrupts import deferred_interrupt
from nicocomments.records import COMMENT_FIELDS, Comment, ThreadRef, ThreadStatus, VideoInfo
from nicocomments.schema import comments, fetch_runs, skipped_seconds, threads, videos

log = logging.getLogger(__name__)

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",  # with WAL: durable against crashes of the process
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
)


# --- opening and migrating ------------------------------------------------------------------


def database_url(target: str) -> str:
    """A path becomes an SQLite URL; ``postgresql://`` uses psycopg (3) unless a driver is named."""
    if "://" not in target:
        return "sqlite:///" + str(Path(target).expanduser().resolve())
    url = make_url(target)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def describe_target(target: str) -> str:
    """The database as it may be shown to users: never with its password."""
    if "://" not in target:
        return target
    return make_url(target).render_as_string(hide_password=True)


def create_db_engine(target: str) -> Engine:
    url = database_url(target)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.parent.is_dir():
            raise BadInput(f"cannot create the database {target}: {path.parent} is not a directory")
    try:
        engine = create_engine(url)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
        raise BadInput(f"cannot use the database URL {describe_target(target)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy emit BEGIN itself (below), so DDL is transactional too.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN")


def migrations_dir() -> Path:
    """``migrations/`` ships inside the wheel as ``nicocomments/migrations``; in a source
    checkout it sits beside the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "migrations", here.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError("the migrations directory is missing from this installation")


def _alembic_config():
    from alembic.config import Config  # imported lazily: alembic is slow to import

    config = Config(stdout=io.StringIO())  # Alembic's chatter never reaches stdout
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


@dataclass(frozen=True)
class Upgrade:
    from_revision: str | None
    to_revision: str
    backup: Path | None = None


def open_db(target: str, *, migrate: bool = True) -> Engine:
    """Open (creating if need be) and migrate forward the database at ``target``."""
    engine = create_db_engine(target)
    try:
        upgrade_db(engine, target, dry_run=not migrate)
    except BaseException:
        engine.dispose()
        raise
    return engine


def upgrade_db(engine: Engine, target: str, *, dry_run: bool = False) -> Upgrade:
    """Bring the schema to the newest revision; refuse a database newer than this program."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = _alembic_config()
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    try:
        with engine.connect() as connection:
            current = current_revision(connection)
            tables = set(inspect(connection).get_table_names())
            connection.rollback()
    except (sa_exc.OperationalError, sa_exc.DatabaseError) as exc:
        raise _database_error(target, exc) from None
    if current == head:
        return Upgrade(current, head)
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise SchemaTooNew(
            f"the database {describe_target(target)} was written by a newer nicocomments "
            f"(schema revision {current}); upgrade nicocomments to use it"
        )
    if current is None and tables - {"alembic_version"}:
        raise DatabaseError(
            f"{describe_target(target)} holds tables but is not a nicocomments database"
        )
    if dry_run:
        raise DatabaseError(
            f"the database {describe_target(target)} needs an upgrade: run `nico db upgrade`"
        )
    backup = None
    if current is not None and engine.dialect.name == "sqlite":
        backup = backup_sqlite(engine, current)
    log.info("upgrading %s from %s to %s", describe_target(target), current or "empty", head)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except (sa_exc.OperationalError, sa_exc.DatabaseError) as exc:
        raise _database_error(target, exc) from None
    return Upgrade(current, head, backup)


def backup_sqlite(engine: Engine, revision: str) -> Path:
    """Copy the database file (consistently, WAL included) before changing its schema."""
    source_path = Path(engine.url.database)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = source_path.with_name(f"{source_path.name}.bak-{revision}-{stamp}")
    source = sqlite3.connect(source_path)
    try:
        destination = sqlite3.connect(target)
        with destination:
            source.backup(destination)
        destination.close()
    finally:
        source.close()
    log.info("backed up %s to %s", source_path, target)
    return target


def _database_error(target: str, exc: Exception) -> DatabaseError:
    detail = str(getattr(exc, "orig", exc)).splitlines()[0]
    return DatabaseError(f"cannot use the database {describe_target(target)}: {detail}")


# --- writing -----------------------------------------------------------------------------------


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def upsert_video(connection: Connection, info: VideoInfo, seen_at: datetime) -> None:
    values = {
        "title": info.title,
        "duration_s": info.duration_s,
        "posted_at": info.posted_at,
        "last_fetched_at": seen_at,
    }
    values = {k: v for k, v in values.items() if v is not None}
    done = connection.execute(
        update(videos).where(videos.c.video_id == info.video_id).values(values)
    )
    if done.rowcount == 0:
        connection.execute(
            videos.insert().values(video_id=info.video_id, first_fetched_at=seen_at, **values)
        )


def ensure_video(connection: Connection, video_id: str, seen_at: datetime) -> None:
    """A bare `videos` row (imports know little more than the id)."""
    upsert_video(connection, VideoInfo(video_id=video_id, threads=()), seen_at)


def upsert_threads(connection: Connection, video_id: str, refs: Iterable[ThreadRef]) -> None:
    for ref in refs:
        key = (threads.c.thread_id == ref.thread_id) & (threads.c.fork == ref.fork)
        values = {"video_id": video_id, "label": ref.label, "needs_key": ref.needs_key}
        if connection.execute(update(threads).where(key).values(values)).rowcount == 0:
            connection.execute(
                threads.insert().values(thread_id=ref.thread_id, fork=ref.fork, **values)
            )


def _forward(column: str):
    """The column's new value: the reported one if it is larger (counts only move forward)."""
    current, reported = threads.c[column], bindparam(column, type_=Integer)
    return case(
        (reported.is_(None), current),
        (current.is_(None) | (current < reported), reported),
        else_=current,
    )


# Built once: this runs after every page.
_SAVE_THREAD_STATUS = (
    update(threads)
    .where(
        (threads.c.thread_id == bindparam("key_thread")) & (threads.c.fork == bindparam("key_fork"))
    )
    .values(
        resultcode=bindparam("resultcode"),
        checked_at=bindparam("checked_at", type_=threads.c.checked_at.type),
        server_time=func.coalesce(
            bindparam("server_time", type_=threads.c.server_time.type), threads.c.server_time
        ),
        last_res=_forward("last_res"),
        comment_count=_forward("comment_count"),
        global_num_res=_forward("global_num_res"),
    )
)


def save_thread_status(connection: Connection, status: ThreadStatus, checked_at: datetime) -> None:
    """Record what the server said about a thread (counts only ever move forward)."""
    connection.execute(
        _SAVE_THREAD_STATUS,
        {
            "key_thread": status.thread_id,
            "key_fork": status.fork,
            "resultcode": status.resultcode,
            "checked_at": checked_at,
            "server_time": status.server_time,
            "last_res": status.last_res,
            "comment_count": status.comment_count,
            "global_num_res": status.global_num_res,
        },
    )


_INSERT_COLUMNS = ("video_id", "run_id", *COMMENT_FIELDS)


def _insert_comments_sql(dialect: str) -> str:
    if dialect == "sqlite":
        mark, timestamp = "?", "datetime(?, 'unixepoch')"
    else:
        mark, timestamp = "%s", "to_timestamp(%s)"
    values = ", ".join(timestamp if c == "posted_at" else mark for c in _INSERT_COLUMNS)
    return (
        f"INSERT INTO comments ({', '.join(_INSERT_COLUMNS)}) VALUES ({values}) "
        "ON CONFLICT (thread_id, fork, no) DO NOTHING"
    )


def save_comments(
    connection: Connection, video_id: str, run_id: int | None, batch: Sequence[Comment]
) -> int:
    """Insert comments not stored yet; return how many were new.

    The one hot path of the program: a single prepared statement, executemany over plain tuples,
    timestamps converted by the database itself."""
    if not batch:
        return 0
    sql = _insert_comments_sql(connection.dialect.name)
    prefix = (video_id, run_id)
    result = connection.exec_driver_sql(sql, [prefix + comment for comment in batch])
    return max(result.rowcount, 0)


def set_history(connection: Connection, thread_id: str, fork: str, **values) -> None:
    """Update a thread's walk state: history_when, history_complete, history_end, catchup_*."""
    key = (threads.c.thread_id == thread_id) & (threads.c.fork == fork)
    connection.execute(update(threads).where(key).values(values))


def save_skipped(
    connection: Connection, run_id: int, thread_id: str, fork: str, seconds: tuple[int, int]
) -> None:
    connection.execute(
        skipped_seconds.insert().values(
            run_id=run_id,
            thread_id=thread_id,
            fork=fork,
            from_second=seconds[0],
            to_second=seconds[1],
        )
    )


# --- runs ----------------------------------------------------------------------------------


def start_run(
    engine: Engine,
    *,
    video_id: str | None,
    protocol: str,
    mode: str,
    options: dict | None = None,
    source: str | None = None,
) -> int:
    with deferred_interrupt(), engine.begin() as connection:
        if video_id is not None:
            # A run still "running" for this video was killed: nothing else writes here.
            connection.execute(
                update(fetch_runs)
                .where((fetch_runs.c.video_id == video_id) & (fetch_runs.c.status == "running"))
                .values(status="interrupted", error="the process stopped without finishing")
            )
        result = connection.execute(
            fetch_runs.insert().values(
                video_id=video_id,
                protocol=protocol,
                mode=mode,
                options=json.dumps(options, sort_keys=True) if options else None,
                source=source,
                tool_version=__version__,
                started_at=now_utc(),
                status="running",
                pages=0,
                requests=0,
                comments_added=0,
            )
        )
        return result.inserted_primary_key[0]


def rename_run_video(engine: Engine, run_id: int, video_id: str) -> None:
    with deferred_interrupt(), engine.begin() as connection:
        connection.execute(
            update(fetch_runs).where(fetch_runs.c.id == run_id).values(video_id=video_id)
        )


def add_to_run(
    connection: Connection,
    run_id: int,
    *,
    pages: int = 0,
    requests: int = 0,
    comments_added: int = 0,
    when_cursor: int | None = None,
) -> None:
    values: dict = {
        "pages": fetch_runs.c.pages + pages,
        "requests": fetch_runs.c.requests + requests,
        "comments_added": fetch_runs.c.comments_added + comments_added,
    }
    if when_cursor is not None:
        values["when_cursor"] = when_cursor
    connection.execute(update(fetch_runs).where(fetch_runs.c.id == run_id).values(values))


def finish_run(
    engine: Engine,
    run_id: int,
    status: str,
    *,
    error: str | None = None,
    requests: int = 0,
) -> None:
    with deferred_interrupt(), engine.begin() as connection:
        connection.execute(
            update(fetch_runs)
            .where(fetch_runs.c.id == run_id)
            .values(
                status=status,
                error=error,
                finished_at=now_utc(),
                requests=fetch_runs.c.requests + requests,
            )
        )


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadState:
    stored: int
    max_no: int | None
    history_when: int | None
    history_complete: bool
    catchup_when: int | None
    catchup_stop_no: int | None


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

    @property
    def server_count(self) -> int | None:
        return self.comment_count if self.comment_count is not None else self.last_res


FORK_ORDER = ("owner", "main", "easy")  # how tables and frames list a video's threads


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
                oldest=_as_utc(row["oldest"]),
                newest=_as_utc(row["newest"]),
                last_res=row["last_res"],
                comment_count=row["comment_count"],
                history_complete=bool(row["history_complete"]),
                history_when=row["history_when"],
                history_end=row["history_end"],
                skipped=row["skipped"] or 0,
            )
        )
    return summaries


def _as_utc(value) -> datetime | None:
    # Aggregates lose the column type in SQLite: min()/max() come back as text.
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if isinstance(value, datetime) else None
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


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
    if row is None:
        return None
    return row[0] if row[0] is not None else row[1]


# --- imports and search (issue 4) ------------------------------------------------------------


def video_exists(connection: Connection, video_id: str) -> bool:
    query = select(videos.c.video_id).where(videos.c.video_id == video_id)
    return connection.execute(query).first() is not None


def ensure_threads(connection: Connection, video_id: str, rows: Iterable[dict]) -> list[tuple]:
    """Add the threads an imported file names that are not stored yet; never change a stored
    one (its label, key and counts came from the server). ``rows`` hold ``thread_id``, ``fork``
    and optionally ``label``, ``last_res``, ``comment_count``, ``server_time``. Returns the
    (thread_id, fork) keys that were added."""
    added = []
    for row in rows:
        key = (threads.c.thread_id == row["thread_id"]) & (threads.c.fork == row["fork"])
        if connection.execute(select(threads.c.thread_id).where(key)).first() is not None:
            continue
        connection.execute(
            threads.insert().values(
                thread_id=row["thread_id"],
                fork=row["fork"],
                video_id=video_id,
                label=row.get("label"),
                needs_key=False,
                last_res=row.get("last_res"),
                comment_count=row.get("comment_count"),
                server_time=row.get("server_time"),
                history_complete=False,
            )
        )
        added.append((row["thread_id"], row["fork"]))
    return added


def discard_run(
    connection: Connection,
    run_id: int,
    *,
    added_threads: Sequence[tuple] = (),
    added_video: str | None = None,
) -> int:
    """Undo what one import stored: the comments it was first to store, the threads and the
    video it created (when nothing else refers to them). Returns the comments deleted."""
    deleted = connection.execute(comments.delete().where(comments.c.run_id == run_id)).rowcount
    for thread_id, fork in added_threads:
        key = (comments.c.thread_id == thread_id) & (comments.c.fork == fork)
        if connection.execute(select(comments.c.id).where(key).limit(1)).first() is None:
            thread_key = (threads.c.thread_id == thread_id) & (threads.c.fork == fork)
            connection.execute(threads.delete().where(thread_key))
    if added_video is not None:
        in_use = (
            connection.execute(
                select(comments.c.id).where(comments.c.video_id == added_video).limit(1)
            ).first()
            or connection.execute(
                select(threads.c.thread_id).where(threads.c.video_id == added_video).limit(1)
            ).first()
        )
        if not in_use:
            connection.execute(videos.delete().where(videos.c.video_id == added_video))
    connection.execute(update(fetch_runs).where(fetch_runs.c.id == run_id).values(comments_added=0))
    return max(deleted, 0)


def posted_unix(dialect: str):
    """``comments.posted_at`` as Unix seconds (an integer), computed by the database."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", comments.c.posted_at), BigInteger)
    return cast(func.extract("epoch", comments.c.posted_at), BigInteger)


def iter_comments(
    connection: Connection,
    video_id: str,
    forks: Sequence[str] = FORK_ORDER,
    *,
    chunk: int = 5_000,
) -> Iterable[Comment]:
    """A video's comments as `Comment` records, streamed from the database (``chunk`` rows at
    a time), owner thread first, then main and easy, each in ``no`` order."""
    query = (
        select(*comment_columns(connection.dialect.name, COMMENT_FIELDS))
        .where((comments.c.video_id == video_id) & comments.c.fork.in_(list(forks)))
        .order_by(fork_order(comments.c.fork), comments.c.thread_id, comments.c.no)
    )
    booleans = [COMMENT_FIELDS.index(f) for f in ("is_premium", "is_anonymous", "is_deleted")]
    result = connection.execution_options(yield_per=chunk).execute(query)
    for row in result:
        values = list(row)
        for i in booleans:
            values[i] = bool(values[i])
        yield Comment(*values)


def thread_counts(connection: Connection, video_id: str) -> dict[tuple[str, str], int]:
    """Per (thread_id, fork) of a video: the server's count if known, else the stored count."""
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
        server = comment_count if comment_count is not None else last_res
        if server is not None:
            stored[(thread_id, fork)] = max(server, stored.get((thread_id, fork), 0))
    return stored


SEARCH_INDEX = "comments_fts"
SEARCH_PENDING = "comments_fts_pending"


def sync_search_index(engine: Engine) -> int:
    """Index the comments queued since the last sync (SQLite with search only; see migration
    0003: indexing in one statement costs a tenth of indexing row by row). Returns how many."""
    if engine.dialect.name != "sqlite":
        return 0
    with deferred_interrupt(), engine.begin() as connection:
        if not inspect(connection).has_table(SEARCH_PENDING):
            return 0
        queued = connection.exec_driver_sql(f"SELECT count(*) FROM {SEARCH_PENDING}").scalar()
        if queued:
            connection.exec_driver_sql(
                f"INSERT INTO {SEARCH_INDEX}(rowid, content) SELECT c.id, c.content "
                f"FROM comments AS c JOIN {SEARCH_PENDING} AS p ON p.id = c.id"
            )
            connection.exec_driver_sql(f"DELETE FROM {SEARCH_PENDING}")
    return queued or 0
