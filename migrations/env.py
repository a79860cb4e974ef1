"""Alembic environment for nicocomments.

Run from code by `nicocomments.store` (which passes its connection through
``config.attributes["connection"]``), or by developers with ``alembic`` and the root alembic.ini.
"""

from alembic import context
from sqlalchemy import engine_from_config, pool

from nicocomments.schema import metadata

config = context.config
target_metadata = metadata

if config.config_file_name is not None and config.attributes.get("connection") is None:
    from logging.config import fileConfig

    fileConfig(config.config_file_name, disable_existing_loggers=False)


# Database objects that live outside the SQLAlchemy models, so autogenerate and
# `alembic check` must not see them: the FTS5 index of migration 0002 (the virtual table and
# the shadow tables SQLite makes for it), and a pg_trgm index an owner may add by hand.
UNMODELLED_PREFIXES = ("comments_fts", "ix_comments_content_trgm")


def include_name(name, type_, parent_names) -> bool:
    return not (name or "").startswith(UNMODELLED_PREFIXES)


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        include_name=include_name,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
