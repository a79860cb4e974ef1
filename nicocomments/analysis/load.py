"""Database → typed DataFrames: `load_comments`, `load_threads`, `load_runs`.

Every column's dtype is set in one place, the ``*_DTYPES`` constants below, by `typed`, so the
frames look the same on SQLite and PostgreSQL, on pandas 2.2 and 3, and when they are empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select

from nicocomments import store
from nicocomments.analysis.scan import (
    EVERY_FORK,
    CommentScan,
    arrow_comments,
    check_forks,
    is_dataset,
    scan_comments,
)
from nicocomments.errors import BadInput
from nicocomments.limits import shown
from nicocomments.schema import comments, fetch_runs, threads, videos

JAPAN = "Asia/Tokyo"
FORKS = store.FORK_ORDER  # the forks every frame knows, in this order; others follow by name
FORK_DTYPE = pd.CategoricalDtype(list(FORKS))  # `typed` adds the other forks a frame holds
STRING = pd.StringDtype()  # "string": missing values are pd.NA (pandas 2.2 and 3 alike)
UTC_TIME = pd.DatetimeTZDtype("ns", "UTC")

#: The columns of `load_comments` and their dtypes. ``vpos`` (a Timedelta) is computed from
#: ``vpos_ms``; ``posted_at`` is tz-aware (UTC unless ``tz=`` asks for another zone).
COMMENT_DTYPES: dict[str, object] = {
    "video_id": STRING,
    "thread_id": STRING,
    "fork": FORK_DTYPE,  # owner, main, easy, live (in that order), then others by name
    "no": "int64",
    "vpos_ms": "int64",
    "vpos": "timedelta64[ns]",
    "posted_at": UTC_TIME,
    "date_usec": "Int64",  # nullable integers: absent where the protocol has no such field
    "content": STRING,
    "commands": STRING,
    "user_id": STRING,
    "is_premium": "bool",
    "is_anonymous": "bool",
    "is_deleted": "bool",
    "deleted_reason": "Int64",
    "score": "Int64",
    "nicoru_count": "Int64",
    "comment_id": STRING,
    "source": STRING,
    "run_id": "Int64",
    "message_id": STRING,  # live: the message server's message id
    "is_overflowed": "boolean",  # live: an overflowed chat; NA for videos
    "name": STRING,  # live: the display name the comment carried
}

VIDEO_DTYPES: dict[str, object] = {
    "video_id": STRING,
    "title": STRING,
    "duration_s": "Int64",  # the video's length: what density and highlights clip to
    "posted_at": UTC_TIME,
    "first_fetched_at": UTC_TIME,
    "last_fetched_at": UTC_TIME,
    "begin_at": UTC_TIME,  # live programs: when it began, ended, and vpos 0
    "end_at": UTC_TIME,
    "vpos_base_at": UTC_TIME,
    "live_status": STRING,
    "voltage_zone": STRING,  # nvcomment: the answer's voltageZone, raw JSON (NA: never sent)
}

THREAD_DTYPES: dict[str, object] = {
    "video_id": STRING,
    "thread_id": STRING,
    "fork": FORK_DTYPE,
    "label": STRING,
    "needs_key": "bool",
    "last_res": "Int64",
    "comment_count": "Int64",
    "global_num_res": "Int64",
    "resultcode": "Int64",
    "server_time": UTC_TIME,
    "checked_at": UTC_TIME,
    "history_when": "Int64",
    "history_complete": "bool",
    "history_end": STRING,
    "history_completed_at": UTC_TIME,
    "catchup_when": "Int64",
    "catchup_stop_no": "Int64",
}

RUN_DTYPES: dict[str, object] = {
    "id": "int64",
    "video_id": STRING,
    "protocol": STRING,
    "mode": STRING,
    "options": STRING,
    "source": STRING,
    "tool_version": STRING,
    "started_at": UTC_TIME,
    "finished_at": UTC_TIME,
    "status": STRING,
    "pages": "int64",
    "requests": "int64",
    "comments_added": "int64",
    "when_cursor": "Int64",
    "error": STRING,
}


def load_comments(
    db: str | Engine | Connection,
    video_id: str | None = None,
    *,
    forks: Sequence[str] | str | None = None,
    include_deleted: bool = False,
    tz: str = "UTC",
) -> pd.DataFrame:
    """The stored comments as a DataFrame with the dtypes of `COMMENT_DTYPES`.

    ``db`` is an SQLite path, a database URL (both opened read-only: `store.open_db`'s
    ``read_only``), an SQLAlchemy Engine or Connection, or the directory of a Parquet dataset
    (``nico import --to``, ``nico export --partitioned``; read by DuckDB). By default
    the owner's comments (scripts, captions) and deleted comments are left out: most analyses are
    about viewers (a live program's comments are all viewers': fork ``live``; a fork a server
    added, such as ``ai``, is kept too). ``forks=("main",)`` names the forks to load, and
    ``forks="all"`` loads every fork. ``fork`` is categorical: `FORKS`, then any other fork
    the rows hold, by name.
    ``tz="Asia/Tokyo"`` (`JAPAN`) gives ``posted_at`` in Japan time. Rows come in
    (video, fork, thread, no) order; an empty result has the same columns and dtypes.

    Example::

        >>> df = load_comments("nico-demo.db", "sm9", tz=JAPAN)
        >>> df[["no", "vpos", "posted_at", "content"]].head(2)
           no                   vpos                 posted_at content
        0   1 0 days 00:05:15.060000 2007-03-06 00:33:03+09:00    絵文字😀
        1   2 0 days 00:04:09.230000 2007-03-06 00:33:32+09:00  ｗｗｗｗｗｗ
    """
    forks = check_forks(forks)
    columns = [c for c in COMMENT_DTYPES if c != "vpos"]
    if isinstance(db, CommentScan) or is_dataset(db):
        selection = (
            db
            if isinstance(db, CommentScan)
            else scan_comments(db, video_id, forks=forks, include_deleted=include_deleted)
        )
        frame = arrow_frame(arrow_comments(selection, columns), COMMENT_DTYPES)
        return _comment_frame(frame, columns, tz)
    with _connection(db) as connection:
        query = select(*store.comment_columns(connection.dialect.name, columns)).order_by(
            comments.c.video_id,
            store.fork_order(comments.c.fork),
            comments.c.fork,
            comments.c.thread_id,
            comments.c.no,
        )
        if forks is None:
            query = query.where(comments.c.fork != "owner")
        elif forks != EVERY_FORK:
            query = query.where(comments.c.fork.in_(list(forks)))
        if video_id is not None:
            query = query.where(comments.c.video_id == video_id)
        if not include_deleted:
            query = query.where(~comments.c.is_deleted)
        arrow = not isinstance(db, Connection)
        frame = load_query(query, connection, arrow=arrow, dtypes=COMMENT_DTYPES)
    frame["posted_at"] = _unix_to_utc(frame["posted_at"])
    return _comment_frame(frame, columns, tz)


def _comment_frame(frame: pd.DataFrame, columns: list[str], tz: str) -> pd.DataFrame:
    """The rows of `load_comments` (``posted_at`` tz-aware), with ``vpos`` added and typed."""
    frame.insert(
        columns.index("vpos_ms") + 1,
        "vpos",
        pd.to_timedelta(frame["vpos_ms"].to_numpy(dtype="int64"), unit="ms"),
    )
    frame = typed(frame, COMMENT_DTYPES)
    if tz != "UTC":
        frame["posted_at"] = frame["posted_at"].dt.tz_convert(tz)
    return frame


def load_videos(db: str | Engine | Connection, video_id: str | None = None) -> pd.DataFrame:
    """The ``videos`` table (dtypes: `VIDEO_DTYPES`): title, length (``duration_s``, NA where
    no protocol gave it, as for imported files) and when it was posted and fetched.

    Example::

        >>> load_videos("nico-demo.db", "sm9")[["video_id", "duration_s"]]
          video_id  duration_s
        0      sm9         319
    """
    if is_dataset(db):  # a dataset knows its videos' ids only
        ids = scan_comments(db, video_id, forks=EVERY_FORK, include_deleted=True).rows(
            "SELECT DISTINCT video_id FROM {rows} ORDER BY video_id"
        )
        frame = pd.DataFrame({name: [None] * len(ids) for name in VIDEO_DTYPES})
        frame["video_id"] = [row[0] for row in ids]
        return typed(frame, VIDEO_DTYPES)
    return _load_table(db, videos, VIDEO_DTYPES, video_id, videos.c.video_id)


def load_threads(db: str | Engine | Connection, video_id: str | None = None) -> pd.DataFrame:
    """The ``threads`` table (dtypes: `THREAD_DTYPES`): each thread's fork, what the server
    last reported about it (``last_res``, ``comment_count``) and the state of its history walk.

    Example::

        >>> load_threads("nico-demo.db", "sm9")[["thread_id", "fork", "comment_count"]]
            thread_id   fork  comment_count
        0  1173108780  owner             20
        1  1173108780   main          30000
        2  1173108780   easy            300
    """
    order = (threads.c.video_id, store.fork_order(threads.c.fork), threads.c.thread_id)
    return _load_table(db, threads, THREAD_DTYPES, video_id, *order)


def load_runs(db: str | Engine | Connection, video_id: str | None = None) -> pd.DataFrame:
    """The ``fetch_runs`` table (dtypes: `RUN_DTYPES`): every fetch and import, with its
    options, source file, status and how many comments it added, oldest first.

    Example::

        >>> load_runs("nico-demo.db", "sm9")[["id", "protocol", "mode", "status", "comments_added"]]
           id   protocol         mode     status  comments_added
        0   1  nvcomment  all-history  completed           29737
    """
    return _load_table(db, fetch_runs, RUN_DTYPES, video_id, fetch_runs.c.id)


def _load_table(db, table, dtypes: dict[str, object], video_id: str | None, *order):
    """The columns of ``dtypes`` of ``table`` (of one video, or all), typed."""
    query = select(*(table.c[name] for name in dtypes)).order_by(*order)
    if video_id is not None:
        query = query.where(table.c.video_id == video_id)
    with _connection(db) as connection:
        frame = load_query(query, connection)
    return typed(frame, dtypes)


def load_query(
    query, connection, *, arrow: bool = False, dtypes: dict[str, object] | None = None
) -> pd.DataFrame:
    """The rows of a SQLAlchemy select as a DataFrame (the types are applied afterwards by
    `typed`, column by column; with ``arrow``, text columns come as `STRING` already:
    `arrow_frame` of ``dtypes``).

    With ``arrow``, through Arrow: the ADBC driver of SQLite or PostgreSQL reads the rows
    into columns in C (`adbc_table`), a read-only connection of its own; not for a
    Connection the caller holds, whose open transaction another connection would not see.
    Otherwise ``pandas.read_sql_query``; on SQLite the compiled statement goes straight to
    the sqlite3 connection: SQLAlchemy's row objects would cost as much again as reading."""
    if arrow and (table := adbc_table(query, connection)) is not None:
        return arrow_frame(table, dtypes or {})
    if connection.dialect.name != "sqlite":
        return pd.read_sql_query(query, connection)
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    parameters = [compiled.params[name] for name in compiled.positiontup or ()]
    raw = connection.connection.driver_connection
    return pd.read_sql_query(str(compiled), raw, params=parameters)


def arrow_frame(table, dtypes: dict[str, object]) -> pd.DataFrame:
    """A pyarrow Table as a DataFrame whose text columns are `STRING` already, as are the
    columns all NULL that ``dtypes`` says hold text (SQLite's driver types such a column as
    integers: it has no value to tell from). Converting them afterwards (`typed`) would go
    through a Python object a value: about a fifth of a million-row `load_comments`."""
    import pyarrow as pa

    for index, column in enumerate(table.schema):
        values = table.column(index)
        if dtypes.get(column.name) == STRING and values.null_count == len(values):
            table = table.set_column(index, column.name, pa.nulls(len(values), pa.string()))
    strings = {pa.string(): STRING, pa.large_string(): STRING}
    return table.to_pandas(types_mapper=strings.get)


ADBC_SQLITE_BATCH = 2**30  # rows the SQLite driver types its columns from: all of them


def adbc_table(query, connection):
    """A pyarrow Table of ``query`` read by the ADBC driver of the connection's database, or
    None where there is none (an in-memory SQLite database; PostgreSQL without the
    'postgres' extra). The statement is compiled with its values inline (they are ours:
    video ids and fork names, quoted by SQLAlchemy)."""
    url = connection.engine.url
    try:
        return _adbc_table(query, connection)
    except Exception as exc:  # the driver's errors: a damaged, locked or vanished database
        target = url.database if url.get_backend_name() == "sqlite" else str(url)
        failure = store.database_failure(target or "(unknown)", exc)
        if failure is None:
            raise
        raise failure from None


def _adbc_table(query, connection):
    url, dialect = connection.engine.url, connection.dialect.name
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    if dialect == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        import adbc_driver_sqlite.dbapi as adbc

        uri = Path(url.database).resolve().as_uri() + "?mode=ro"
        with adbc.connect(uri) as raw, raw.cursor() as cursor:
            # SQLite columns have no types: the driver takes them from the rows it has seen
            # (the first batch), so a column NULL in the first thousand rows would break.
            cursor.adbc_statement.set_options(
                **{"adbc.sqlite.query.batch_rows": str(ADBC_SQLITE_BATCH)}
            )
            cursor.execute(sql)
            return cursor.fetch_arrow_table()
    if dialect == "postgresql":
        try:
            import adbc_driver_postgresql.dbapi as adbc
        except ImportError:
            return None
        uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with adbc.connect(uri) as raw, raw.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetch_arrow_table()
    return None


def typed(frame: pd.DataFrame, dtypes: dict[str, object]) -> pd.DataFrame:
    """``frame`` with exactly the columns of ``dtypes``, in that order, converted column-wise."""
    out = {}
    for name, dtype in dtypes.items():
        column = frame[name]
        if dtype is FORK_DTYPE:
            column = column.astype(fork_dtype(column))
        elif dtype == "bool":
            column = column.fillna(False).astype(bool)
        elif isinstance(dtype, pd.DatetimeTZDtype) and column.dtype != dtype:
            column = pd.to_datetime(column, utc=True, format="ISO8601").astype(dtype)
        elif dtype == "Int64" and column.dtype == object:
            column = pd.to_numeric(column).astype(dtype)
        else:
            column = column.astype(dtype)
        out[name] = column
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def fork_dtype(forks) -> pd.CategoricalDtype:
    """The categorical dtype of a ``fork`` column holding ``forks``: `FORKS`, then any other
    fork among them (``ai``, …) by name."""
    others = sorted({str(f) for f in pd.Series(forks).dropna().unique()} - set(FORKS))
    return pd.CategoricalDtype([*FORKS, *others]) if others else FORK_DTYPE


def _unix_to_utc(values: pd.Series) -> pd.Series:
    seconds = values.to_numpy(dtype="int64") if len(values) else np.array([], dtype="int64")
    return pd.Series(seconds.astype("datetime64[s]").astype("datetime64[ns]")).dt.tz_localize("UTC")


@contextmanager
def _connection(db: str | Engine | Connection) -> Iterator:
    if isinstance(db, Connection):
        yield db
        return
    if isinstance(db, Engine):
        with db.connect() as connection:
            yield connection
        return
    if "://" not in db and not Path(db).expanduser().is_file():
        raise BadInput(f"{shown(str(db))}: no such database file")
    # Read-only: a notebook that loads comments never changes the database (nor migrates it:
    # a database of an older schema names `nico db upgrade`).
    with store.database(db, read_only=True) as engine, engine.connect() as connection:
        yield connection
