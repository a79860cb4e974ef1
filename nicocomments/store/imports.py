"""What `nico import` needs beyond the writers: threads it names, and undoing a failed file."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import (
    Connection,
    select,
    update,
)

from nicocomments.schema import comments, fetch_runs, threads, videos
from nicocomments.store.write import insert_on_conflict


def ensure_threads(connection: Connection, video_id: str, rows: Iterable[dict]) -> list[tuple]:
    """Add the threads an imported file names that are not stored yet; never change a stored
    one (its label, key and counts came from the server). ``rows`` hold ``thread_id``, ``fork``
    and optionally ``label``, ``last_res``, ``comment_count``, ``server_time``. Returns the
    (thread_id, fork) keys that were added."""
    added = []
    for row in rows:
        statement = insert_on_conflict(connection, threads).values(
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
        # One statement: another writer adding the same thread meanwhile is no error.
        if connection.execute(statement.on_conflict_do_nothing()).rowcount:
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
