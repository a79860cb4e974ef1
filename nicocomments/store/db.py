"""Opening and migrating databases, alone or with other processes at the same time.

`open_db` applies the Alembic migrations forward (backing up an SQLite file first), refuses a
database written by a newer nicocomments, and sets SQLite up for safe bulk writes (WAL, a busy
timeout, synchronous=NORMAL, transactional DDL). With ``read_only=True`` (commands that only
read) a database whose schema is current is opened read-only and never written.

Several processes may use one database at once. Migrations are serialised (an advisory lock on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) and each looks again, under the lock, at what is still
to do. SQLite write transactions (`store.transaction`) take the write lock as they begin, so a
writer waits its turn (the busy timeout) instead of failing when another one committed first;
`store.save_retrying` runs a transaction again when the database reports a deadlock or stays
locked.

An SQLite file is checked (``PRAGMA quick_check``) once whenever it is opened for writing, before
anything is written to it: a damaged file is refused with what to do about it, and left exactly
as it was. The check reads the whole file (about as long as reading it from disk), which a
writer can afford once per run; read-only opens skip it and report damage when they meet it.
"""

from __future__ import annotations

import io
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    inspect,
    pool,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from nicocomments.errors import BadInput, DatabaseError, SchemaTooNew

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30
# Set on every connection; WAL is a property of the file, switched on once when opened to write.
SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}",
    "PRAGMA synchronous=NORMAL",  # with WAL: durable against crashes of the process
    "PRAGMA foreign_keys=ON",
)
# The execution option `store.transaction` sets: on SQLite its BEGIN takes the write lock.
WRITE_OPTION = "nico_write"
# pg_advisory_xact_lock key held while migrating ("nicocomm" as a 64-bit number).
MIGRATION_LOCK_KEY = int.from_bytes(b"nicocomm", "big") - 2**63

# SQLite result codes (the low byte of extended ones) and PostgreSQL SQLSTATEs that say
# something about the database rather than about nicocomments.
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_CANTOPEN = 5, 6, 8, 14
SQLITE_DAMAGED = {11, 26}  # SQLITE_CORRUPT ("malformed"), SQLITE_NOTADB
PG_CONTENTION = {"40P01", "40001", "55P03"}  # deadlock, serialization failure, lock not available


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


def sqlite_path(target: str) -> Path | None:
    """The file behind an SQLite target; None for other databases."""
    url = database_url(target)
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def create_db_engine(target: str, *, read_only: bool = False) -> Engine:
    """An engine on ``target``; read-only ones never write (SQLite: a ``mode=ro`` connection,
    PostgreSQL: read-only transactions)."""
    url = database_url(target)
    path = sqlite_path(target)
    if path is not None and not path.parent.is_dir():
        raise BadInput(f"cannot create the database {target}: {path.parent} is not a directory")
    try:
        if path is not None and read_only:
            engine = _read_only_sqlite_engine(target, path)
        elif read_only:
            engine = create_engine(url, execution_options={"postgresql_readonly": True})
        else:
            engine = create_engine(url)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
        raise BadInput(f"cannot use the database URL {describe_target(target)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _read_only_sqlite_engine(target: str, path: Path) -> Engine:
    uri = f"file:{quote(str(path))}?mode=ro"
    probe = None
    try:
        probe = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        probe.execute("SELECT count(*) FROM sqlite_master").close()
    except sqlite3.OperationalError as exc:
        # Reading a WAL database needs its -shm file, which a read-only folder cannot get.
        # Without a -wal file no writer is at work and the main file holds everything.
        wal = path.with_name(path.name + "-wal")
        if _code(exc) not in (SQLITE_READONLY, SQLITE_CANTOPEN) or wal.exists():
            raise _failure(target, exc) from None
        uri += "&immutable=1"
        log.info("%s: its folder is read-only; reading it as an unchanging file", path)
    except sqlite3.DatabaseError as exc:
        raise _failure(target, exc) from None
    finally:
        if probe is not None:
            probe.close()

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    return create_engine("sqlite://", creator=connect, poolclass=pool.QueuePool)


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
        # A writer takes the lock first: a deferred transaction that read before another
        # process committed could never write (SQLITE_BUSY at once, whatever the timeout).
        writing = connection.get_execution_options().get(WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def migrations_dir() -> Path:
    """``migrations/`` ships inside the wheel as ``nicocomments/migrations``; in a source
    checkout it sits beside the package."""
    package = Path(__file__).resolve().parents[1]  # nicocomments/
    for candidate in (package / "migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError("the migrations directory is missing from this installation")


def alembic_config():
    from alembic.config import Config  # imported lazily: alembic is slow to import

    config = Config(stdout=io.StringIO())  # Alembic's chatter never reaches stdout
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


@dataclass(frozen=True)
class Upgrade:
    from_revision: str | None
    to_revision: str
    backup: Path | None = None


def open_db(target: str, *, migrate: bool = True, read_only: bool = False) -> Engine:
    """Open (creating if need be) and migrate forward the database at ``target``.

    ``read_only``: for callers that only read. A database whose schema is current is opened
    read-only, and nothing is ever written to it; one that must be created or upgraded first
    is, when it may be written, and otherwise the error names `nico db upgrade`."""
    if read_only:
        engine = _open_current(target)
        if engine is not None:
            return engine
    engine = create_db_engine(target)
    try:
        upgrade_db(engine, target, dry_run=not migrate)
    except BaseException:
        engine.dispose()
        raise
    return engine


@contextmanager
def database(target: str, *, read_only: bool = False) -> Iterator[Engine]:
    """`open_db` for the length of a ``with`` block, disposed of at its end however it ends:
    ``with store.database(db, read_only=True) as engine: …``."""
    engine = open_db(target, read_only=read_only)
    try:
        yield engine
    finally:
        engine.dispose()


def _open_current(target: str) -> Engine | None:
    """A read-only engine when ``target``'s schema is this program's; None when it must be
    created or upgraded first and may be written."""
    path = sqlite_path(target)
    if path is not None and not path.is_file():
        return None  # created like any new database
    engine = create_db_engine(target, read_only=True)
    try:
        with engine.connect() as connection:
            current, tables = _schema_state(connection)
        head = _check_schema(target, current, tables)
    except (sa_exc.OperationalError, sa_exc.DatabaseError) as exc:
        engine.dispose()
        raise _failure(target, exc) from None
    except BaseException:
        engine.dispose()
        raise
    if current == head:
        return engine
    engine.dispose()
    if path is not None and not _writable(path):
        raise DatabaseError(
            f"the database {describe_target(target)} has schema revision {current or '(none)'} "
            f"and this nicocomments reads {head}, but the file or its folder is read-only: "
            f"run `nico db upgrade --db {describe_target(target)}` as a user who may write it"
        )
    return None


def _writable(path: Path) -> bool:
    # The folder too: SQLite writes its -wal and -shm files (and nico its backups) beside it.
    folder = os.access(path.parent, os.W_OK)
    return folder and (not path.exists() or os.access(path, os.W_OK))


def upgrade_db(engine: Engine, target: str, *, dry_run: bool = False) -> Upgrade:
    """Bring the schema to the newest revision; refuse a database newer than this program, or
    a damaged SQLite file (which is left untouched).

    Safe against other processes doing the same at the same time: the migration runs under a
    lock, and whoever gets it second finds the work done."""
    from alembic import command

    config = alembic_config()
    path = sqlite_path(target)
    if path is not None and not _writable(path):
        raise DatabaseError(
            f"cannot write the database {describe_target(target)}: the file or its folder is "
            "read-only (status, search, export and analyze can still read it)"
        )
    try:
        if path is not None:
            _check_sqlite_file(target, path)
        with engine.connect() as connection:
            current, tables = _schema_state(connection)
            connection.rollback()
        head = _check_schema(target, current, tables)
        if path is not None:
            _use_wal(engine)
        if current == head:
            return Upgrade(current, head)
        if dry_run:
            raise DatabaseError(
                f"the database {describe_target(target)} needs an upgrade: run `nico db upgrade`"
            )
        backup = None
        with _migration_lock(engine) as connection:
            current, tables = _schema_state(connection)  # another process may have done it
            _check_schema(target, current, tables)
            if current == head:
                return Upgrade(current, head)
            if current is not None and path is not None:
                backup = backup_sqlite(engine, current)
            log.info(
                "upgrading %s from %s to %s", describe_target(target), current or "empty", head
            )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except (sa_exc.OperationalError, sa_exc.DatabaseError, sqlite3.DatabaseError) as exc:
        raise _failure(target, exc) from None
    return Upgrade(current, head, backup)


def _schema_state(connection: Connection) -> tuple[str | None, set[str]]:
    return current_revision(connection), set(inspect(connection).get_table_names())


def _check_schema(target: str, current: str | None, tables: set[str]) -> str:
    """Refuse a database this program must not touch; return the head revision."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise SchemaTooNew(
            f"the database {describe_target(target)} was written by a newer nicocomments "
            f"(schema revision {current}); upgrade nicocomments to use it"
        )
    if current is None and tables - {"alembic_version"}:
        raise DatabaseError(
            f"{describe_target(target)} holds tables but is not a nicocomments database"
        )
    return script.get_current_head()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction that no other nicocomments migrates beside: SQLite's write lock taken at
    BEGIN, or PostgreSQL's advisory lock (DDL alone would collide in the catalogues)."""
    with engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            yield connection


def _use_wal(engine: Engine) -> None:
    """Switch the file to WAL (it stays so); outside any transaction, as SQLite requires."""
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA journal_mode=WAL").close()
    finally:
        raw.close()


def _check_sqlite_file(target: str, path: Path) -> None:
    """``PRAGMA quick_check`` through a read-only connection: nothing is written to a file
    that fails it. A new (missing or empty) file has nothing to check."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    checker = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        problems = [row[0] for row in checker.execute("PRAGMA quick_check")]
    finally:
        checker.close()
    if problems != ["ok"]:
        raise damaged(target, problems[0])


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


# --- what database errors mean ------------------------------------------------------------------


def _driver_error(exc: BaseException) -> BaseException | None:
    """The driver's own exception behind ``exc`` (SQLAlchemy and pandas wrap it)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, sqlite3.Error) or hasattr(exc, "sqlstate"):
            return exc
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return None


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if code is not None else None


def is_contention(exc: BaseException) -> bool:
    """Another writer was in the way: a deadlock, or SQLite still locked after the timeout.
    Running the transaction again is the cure."""
    driver = _driver_error(exc)
    if driver is None:
        return False
    return _code(driver) in (SQLITE_BUSY, SQLITE_LOCKED) or (
        getattr(driver, "sqlstate", None) in PG_CONTENTION
    )


def damaged(target: str, detail: str) -> DatabaseError:
    name = describe_target(target)
    return DatabaseError(
        f"cannot use the database {name}: it is damaged or not an SQLite database ({detail}), "
        f"so nicocomments leaves it untouched; restore it from a backup, or copy out what is "
        f"readable with `sqlite3 {name} .recover | sqlite3 recovered.db`"
    )


def database_failure(target: str | None, exc: BaseException) -> DatabaseError | None:
    """What a database error means for the user (exit 7), or None when it is not the
    database's doing (a constraint or SQL error: a bug in nicocomments)."""
    target = target or "(unknown)"
    driver = _driver_error(exc)
    if driver is None:
        return None
    if _is_adbc(driver):
        return _adbc_failure(target, driver)
    code = _code(driver)
    if code in SQLITE_DAMAGED:
        return damaged(target, str(driver).splitlines()[0])
    if code in (SQLITE_BUSY, SQLITE_LOCKED) or getattr(driver, "sqlstate", None) in PG_CONTENTION:
        return _database_error(target, driver, "another program kept it busy; try again later")
    if code == SQLITE_READONLY:
        return _database_error(target, driver, "the file or its folder is read-only")
    if isinstance(driver, sqlite3.OperationalError) or isinstance(exc, sa_exc.OperationalError):
        return _database_error(target, driver)
    return None


def _failure(target: str, exc: BaseException) -> DatabaseError:
    """Any error while opening: the database cannot be used as it is."""
    return database_failure(target, exc) or _database_error(target, exc)


# ADBC's errors that are ours (a wrong statement), not the database's.
_ADBC_OURS = {"ProgrammingError", "IntegrityError", "NotSupportedError", "DataError"}
# SQLite's own words for SQLITE_CORRUPT and SQLITE_NOTADB (its ADBC driver gives no code).
_SQLITE_DAMAGED_WORDS = ("database disk image is malformed", "file is not a database")


def _is_adbc(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] == "adbc_driver_manager"


def _adbc_failure(target: str, driver: BaseException) -> DatabaseError | None:
    """An error of an ADBC driver (`analysis.load.adbc_table`), as `database_failure` says."""
    if {cls.__name__ for cls in type(driver).__mro__} & _ADBC_OURS:
        return None
    detail = str(driver).splitlines()[0] if str(driver) else type(driver).__name__
    if any(words in detail for words in _SQLITE_DAMAGED_WORDS):
        return damaged(target, detail)
    sqlstate = getattr(driver, "sqlstate", None)
    why = "another program kept it busy; try again later" if sqlstate in PG_CONTENTION else None
    return _database_error(target, driver, why)


def _database_error(target: str, exc: BaseException, why: str | None = None) -> DatabaseError:
    """The driver's own words (its first line), what they mean (``why``), and its error code
    (SQLite's result code, PostgreSQL's SQLSTATE) as ``code``."""
    driver = _driver_error(exc)
    detail = str(getattr(exc, "orig", exc)).splitlines()[0]
    message = f"cannot use the database {describe_target(target)}: {detail}"
    code = None if driver is None else _code(driver) or getattr(driver, "sqlstate", None)
    return DatabaseError(f"{message} ({why})" if why else message, code=code)
