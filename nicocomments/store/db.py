"""Opening and migrating databases.

`open_db` applies the Alembic migrations forward (backing up an SQLite file first), refuses a
database written by a newer nicocomments, and sets SQLite up for safe bulk writes (WAL, a busy
timeout, synchronous=NORMAL, transactional DDL).
"""

from __future__ import annotations

import io
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    inspect,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from nicocomments.errors import BadInput, DatabaseError, SchemaTooNew

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
    package = Path(__file__).resolve().parents[1]  # nicocomments/
    for candidate in (package / "migrations", package.parent / "migrations"):
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
