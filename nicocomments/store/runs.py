"""Run records: every fetch and import gets a ``fetch_runs`` row saying what it did and how it
ended (`start_run`, `add_to_run`, `finish_run`, `run_recorded`); an import that fails takes
back what it stored (`discard_run`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import Connection, Engine, select, update

from nicocomments import __version__
from nicocomments.errors import NicoError
from nicocomments.schema import comments, fetch_runs, threads, videos
from nicocomments.store.write import now_utc, save_retrying, sync_search_index

T = TypeVar("T")


def start_run(
    engine: Engine,
    *,
    video_id: str | None,
    protocol: str,
    mode: str,
    options: dict | None = None,
    source: str | None = None,
) -> int:

    def start(connection: Connection) -> int:
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

    return save_retrying(engine, start)


def rename_run_video(engine: Engine, run_id: int, video_id: str) -> None:
    save_retrying(
        engine,
        lambda connection: connection.execute(
            update(fetch_runs).where(fetch_runs.c.id == run_id).values(video_id=video_id)
        ),
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
    save_retrying(
        engine,
        lambda connection: connection.execute(
            update(fetch_runs)
            .where(fetch_runs.c.id == run_id)
            .values(
                status=status,
                error=error,
                finished_at=now_utc(),
                requests=fetch_runs.c.requests + requests,
            )
        ),
    )


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


def run_recorded(
    engine: Engine, run_id: int, work: Callable[[], T], unsaved_requests: Callable[[], int]
) -> T:
    """Do a fetch's ``work`` and record how its run ended, however it ends: completed, failed
    (a `NicoError`, or a bug named by its type) or interrupted (Ctrl-C), with the requests
    not counted yet; the search index takes what was stored unless the run was interrupted.
    Returns what ``work`` returns."""
    try:
        done = work()
    except KeyboardInterrupt:
        finish_run(engine, run_id, "interrupted", error="interrupted", requests=unsaved_requests())
        raise
    except NicoError as exc:
        sync_search_index(engine)
        finish_run(engine, run_id, "failed", error=str(exc), requests=unsaved_requests())
        raise
    except Exception as exc:
        finish_run(
            engine,
            run_id,
            "failed",
            error=f"{type(exc).__name__}: {exc}",
            requests=unsaved_requests(),
        )
        raise
    sync_search_index(engine)
    finish_run(engine, run_id, "completed", requests=unsaved_requests())
    return done
