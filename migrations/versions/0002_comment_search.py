"""Full-text search over comments: an SQLite FTS5 index kept in sync by triggers.

SQLite: ``comments_fts`` is an external-content FTS5 table over ``comments.content`` (no copy
of the text), with the ``trigram`` tokenizer so that any substring of three or more characters
matches (Japanese has no spaces between words, so word tokenizers find little). Three triggers
keep it in step with every insert, delete and change of ``content``; existing rows are indexed
here, once. An SQLite without FTS5 or without the trigram tokenizer (older than 3.34) gets no
index: `nicocomments.search` then falls back to LIKE.

PostgreSQL: nothing. `nico search` uses ILIKE there; a pg_trgm GIN index, which speeds ILIKE up,
is left to the database's owner because creating the extension needs privileges nico should not
assume (the README shows the two statements).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:00:00
"""

import logging
from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

FTS_TABLE = "comments_fts"

STATEMENTS = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
    "content, content='comments', content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON comments BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, content) VALUES (new.id, new.content); END",
    f"CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON comments BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, content) "
    "VALUES ('delete', old.id, old.content); END",
    f"CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF content ON comments BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, content) "
    "VALUES ('delete', old.id, old.content); "
    f"INSERT INTO {FTS_TABLE}(rowid, content) VALUES (new.id, new.content); END",
    # Index the comments stored before this revision.
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if not _trigram_available(bind):
        log.warning("this SQLite has no FTS5 trigram tokenizer: nico search will use LIKE")
        return
    for statement in STATEMENTS:
        op.execute(statement)


def _trigram_available(bind) -> bool:
    try:
        bind.exec_driver_sql(
            "CREATE VIRTUAL TABLE temp.nico_trigram_probe USING fts5(x, tokenize='trigram')"
        )
    except Exception:  # no FTS5 at all, or no trigram tokenizer: both mean "use LIKE"
        return False
    bind.exec_driver_sql("DROP TABLE temp.nico_trigram_probe")
    return True


def downgrade() -> None:
    # nicocomments migrates forward only; downgrades are not supported.
    raise NotImplementedError("nicocomments databases are never downgraded")
