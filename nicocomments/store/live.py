"""Niconico Live programs in the database (live.md §4): the program as a `videos` row, its
comments as `comments` rows (thread = program id, fork ``live``), its other messages in
`live_events`, and what `nico status` says of them.

The data side knows no protocol: rows come in as plain tuples and dicts. Writing is idempotent
like the rest of the store: a comment is new when neither its (program, no) nor its message id
is stored yet; an event when its message id is not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

from sqlalchemy import Connection, func, select

from nicocomments.records import LIVE_FORK, Comment, ThreadRef
from nicocomments.schema import comments, live_events, videos
from nicocomments.store.write import insert_on_conflict, save_comments, upsert_threads

_KEY = itemgetter(0, 1, 2)  # thread_id, fork, no


@dataclass(frozen=True)
class ProgramRow:
    program_id: str
    title: str | None
    begin_at: int
    end_at: int | None
    vpos_base_at: int
    status: str | None


def upsert_program(connection: Connection, program: ProgramRow, seen_at: datetime) -> None:
    """The program's `videos` row and its one thread (``live``)."""
    values = {
        "title": program.title,
        "posted_at": program.begin_at,
        "duration_s": (program.end_at - program.begin_at) if program.end_at else None,
        "begin_at": program.begin_at,
        "end_at": program.end_at,
        "vpos_base_at": program.vpos_base_at,
        "live_status": program.status,
        "last_fetched_at": seen_at,
    }
    values = {k: v for k, v in values.items() if v is not None}
    statement = insert_on_conflict(connection, videos).values(
        video_id=program.program_id, first_fetched_at=seen_at, **values
    )
    connection.execute(
        statement.on_conflict_do_update(index_elements=[videos.c.video_id], set_=values)
    )
    upsert_threads(
        connection, program.program_id, [ThreadRef(program.program_id, LIVE_FORK, "live")]
    )


def save_live_comments(
    connection: Connection, program_id: str, run_id: int | None, rows: Sequence[Comment]
) -> int:
    """Insert live comments (`records.Comment`, their live fields set) not stored yet; return
    how many were new: `save_comments`, which leaves out a row whose (thread, fork, no) or
    (thread, message id) is stored already."""
    return save_comments(connection, program_id, run_id, rows)


def save_live_events(
    connection: Connection, program_id: str, run_id: int | None, rows: Sequence[dict]
) -> int:
    """Insert messages that are not comments (``message_id``, ``kind``, ``posted_at`` Unix
    seconds, ``date_usec``, ``payload`` a dict, ``raw`` bytes); return how many were new."""
    added = 0
    for row in sorted(rows, key=lambda r: r["message_id"]):
        statement = insert_on_conflict(connection, live_events).values(
            video_id=program_id,
            message_id=row["message_id"],
            kind=row["kind"],
            posted_at=row.get("posted_at"),
            date_usec=row.get("date_usec"),
            payload=json.dumps(row.get("payload") or {}, ensure_ascii=False, sort_keys=True),
            raw=row.get("raw"),
            run_id=run_id,
        )
        added += connection.execute(statement.on_conflict_do_nothing()).rowcount or 0
    return added


def live_message_ids(connection: Connection, program_id: str) -> set[str]:
    """Every message id stored for the program, comments and events."""
    found = connection.execute(
        select(comments.c.message_id).where(
            (comments.c.thread_id == program_id) & comments.c.message_id.is_not(None)
        )
    ).scalars()
    events = connection.execute(
        select(live_events.c.message_id).where(live_events.c.video_id == program_id)
    ).scalars()
    return set(found) | set(events)


def oldest_live_moment(connection: Connection, program_id: str) -> int | None:
    """The oldest stored comment's moment from its vpos (vposBaseTime + vpos), Unix seconds:
    where a resumed walk re-seeds."""
    base = connection.execute(
        select(videos.c.vpos_base_at).where(videos.c.video_id == program_id)
    ).scalar()
    lowest = connection.execute(
        select(func.min(comments.c.vpos_ms)).where(
            (comments.c.thread_id == program_id) & (comments.c.fork == LIVE_FORK)
        )
    ).scalar()
    if base is None or lowest is None:
        return None
    return int(base.timestamp()) + int(lowest) // 1000
