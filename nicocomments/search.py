"""Finding comments by their text: `search_comments`.

SQLite uses the FTS5 index of migrations 0002 and 0003 (``comments_fts``, trigram tokenizer):
a query of three or more characters matches anywhere inside a comment, Japanese included,
case-insensitive for ASCII. Shorter queries (a trigram index cannot answer them) and databases
without the index use LIKE; PostgreSQL uses ILIKE. All three give the same answer: the comments
that contain the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Integer, column, func, literal, select, text

from nicocomments.schema import comments
from nicocomments.store import SEARCH_INDEX, SEARCH_PENDING, has_search_index

MIN_FTS_LENGTH = 3  # the trigram tokenizer indexes runs of three characters


@dataclass(frozen=True)
class Hit:
    video_id: str
    thread_id: str
    fork: str
    no: int
    vpos_ms: int
    posted_at: datetime
    content: str


def search_comments(
    connection: Connection, query: str, *, video_id: str | None = None, limit: int | None = 100
) -> tuple[int, list[Hit]]:
    """(how many comments contain ``query``, the first ``limit`` of them in video and
    video-time order). Deleted comments have no text and never match."""
    condition = _match(connection, query)
    if video_id is not None:
        condition = condition & (comments.c.video_id == video_id)
    total = connection.execute(select(func.count()).where(condition)).scalar() or 0
    rows = connection.execute(
        select(
            comments.c.video_id,
            comments.c.thread_id,
            comments.c.fork,
            comments.c.no,
            comments.c.vpos_ms,
            comments.c.posted_at,
            comments.c.content,
        )
        .where(condition)
        .order_by(comments.c.video_id, comments.c.vpos_ms, comments.c.posted_at, comments.c.no)
        .limit(limit)
    )
    return total, [Hit(*row) for row in rows]


def _match(connection: Connection, query: str):
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if connection.dialect.name != "sqlite":
        return comments.c.content.ilike(literal(pattern), escape="\\")
    like = comments.c.content.like(literal(pattern), escape="\\")
    if not has_search_index(connection) or len(query) < MIN_FTS_LENGTH:
        return like
    phrase = '"' + query.replace('"', '""') + '"'  # one phrase: match the text as it is
    matching = text(f"SELECT rowid FROM {SEARCH_INDEX} WHERE {SEARCH_INDEX} MATCH :phrase")
    matching = matching.bindparams(phrase=phrase).columns(column("rowid", Integer))
    indexed = comments.c.id.in_(matching)
    # Comments stored since the last sync wait in a queue (migration 0003): read them directly,
    # so a search is always complete, synced or not.
    queued = text(f"SELECT id FROM {SEARCH_PENDING}").columns(column("id", Integer))
    return indexed | (comments.c.id.in_(queued) & like)
