"""Collections of `nico crawl`: their listing (``collection_videos``), each video's crawl state,
the per-collection report of `nico status`, and the shared request budget (``rate_budgets``).

Video states: ``pending`` (listed, not fetched since), ``partial`` (a fetch started and did not
finish: resumed by the next crawl), ``complete``, ``failed`` (cannot be read: deleted, private…;
``reason`` says why; not asked again).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, and_, delete, exists, func, inspect, or_, select, update

from nicocomments.schema import collection_videos, collections, comments, rate_budgets, threads
from nicocomments.store.write import insert_on_conflict, now_utc

STATES = ("pending", "partial", "complete", "failed")
TO_FETCH = ("pending", "partial")
DELETE_BATCH = 500  # ids a statement: far below SQLite's limit on bound values


@dataclass(frozen=True)
class Listed:
    """A video as a listing showed it (what ``collection_videos`` keeps of it)."""

    video_id: str
    title: str | None = None
    comment_count: int | None = None
    last_comment_at: int | None = None  # Unix s


@dataclass
class CollectionReport:
    name: str
    title: str | None
    listed: int = 0
    states: dict[str, int] = field(default_factory=dict)
    comments_stored: int = 0
    comments_listed: int | None = None  # the listing's counts, summed; None: it gave none
    crawled_at: datetime | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)  # (video id, reason)


def has_collections(connection: Connection) -> bool:
    """Whether the database has the collection tables (a read-only older one may not)."""
    return inspect(connection).has_table("collection_videos")


def ensure_collection(connection: Connection, name: str, kind: str, key: str) -> int:
    """The id of collection ``name``, created if new."""
    statement = insert_on_conflict(connection, collections).values(
        name=name, kind=kind, key=key, created_at=now_utc()
    )
    connection.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
    return connection.execute(
        select(collections.c.id).where(collections.c.name == name)
    ).scalar_one()


def find_collection(connection: Connection, name: str) -> int | None:
    """The id of collection ``name`` (its canonical short form), or None if never crawled."""
    if not has_collections(connection):
        return None
    return connection.execute(
        select(collections.c.id).where(collections.c.name == name)
    ).scalar_one_or_none()


def collection_row(connection: Connection, collection_id: int):
    return connection.execute(select(collections).where(collections.c.id == collection_id)).one()


def set_collection(connection: Connection, collection_id: int, **values) -> None:
    connection.execute(
        update(collections).where(collections.c.id == collection_id).values(**values)
    )


def save_listing(
    connection: Connection,
    collection_id: int,
    listed: Iterable[Listed],
    *,
    first_position: int = 0,
    changed: set[str] | None = None,
) -> int:
    """Add or refresh listed videos. New ones are ``pending``; a known one in ``changed`` (it
    has new comments) goes back to ``pending`` unless it failed for good. Returns how many
    were new."""
    now = now_utc()
    new = 0
    known = {
        row.video_id: row.state
        for row in connection.execute(
            select(collection_videos.c.video_id, collection_videos.c.state).where(
                collection_videos.c.collection_id == collection_id
            )
        )
    }
    for position, video in enumerate(listed, start=first_position):
        values = {
            "title": video.title,
            "comment_count": video.comment_count,
            "last_comment_at": video.last_comment_at,
            "listed_at": now,
        }
        state = known.get(video.video_id)
        if state is None:
            new += 1
            known[video.video_id] = "pending"
            statement = insert_on_conflict(connection, collection_videos).values(
                collection_id=collection_id,
                video_id=video.video_id,
                position=position,
                state="pending",
                **values,
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["collection_id", "video_id"], set_=values
                )
            )
            continue
        if changed is not None and video.video_id in changed and state == "complete":
            values["state"] = "pending"
        connection.execute(
            update(collection_videos).where(_video(collection_id, video.video_id)).values(**values)
        )
    return new


def mark_changed(connection: Connection, collection_id: int, video_ids: Iterable[str]) -> int:
    """Put complete videos with new comments back to ``pending``; how many were."""
    ids = list(video_ids)
    if not ids:
        return 0
    result = connection.execute(
        update(collection_videos)
        .where(
            collection_videos.c.collection_id == collection_id,
            collection_videos.c.video_id.in_(ids),
            collection_videos.c.state == "complete",
        )
        .values(state="pending")
    )
    return result.rowcount


def listed_ids(connection: Connection, collection_id: int) -> list[str]:
    return list(
        connection.execute(
            select(collection_videos.c.video_id)
            .where(collection_videos.c.collection_id == collection_id)
            .order_by(collection_videos.c.position, collection_videos.c.video_id)
        ).scalars()
    )


def drop_unlisted(connection: Connection, collection_id: int, video_ids: Iterable[str]) -> int:
    """Forget the listed videos not in ``video_ids`` (a file or query that no longer names
    them); their comments stay. How many were."""
    keep = set(video_ids)
    gone = [video_id for video_id in listed_ids(connection, collection_id) if video_id not in keep]
    for start in range(0, len(gone), DELETE_BATCH):  # bound values a statement, not one a id
        connection.execute(
            delete(collection_videos).where(
                collection_videos.c.collection_id == collection_id,
                collection_videos.c.video_id.in_(gone[start : start + DELETE_BATCH]),
            )
        )
    return len(gone)


def _unwalked(video_id):
    """Whether a thread of ``video_id`` has a history not walked to its first comment yet,
    or a catch-up with newer comments left unfinished (`ThreadSummary.complete`): a stretch
    not read. The owner's is never walked (one answer holds it whole)."""
    return exists().where(
        threads.c.video_id == video_id,
        threads.c.fork != "owner",
        or_(threads.c.history_complete.is_(False), threads.c.catchup_when.is_not(None)),
    )


def history_complete(connection: Connection, video_id: str) -> bool:
    """Whether every thread stored of ``video_id`` has its whole history (`_unwalked`)."""
    return not connection.execute(select(_unwalked(video_id))).scalar()


def videos_to_fetch(
    connection: Connection, collection_id: int, *, all_history: bool = False
) -> list[tuple[str, int | None]]:
    """``(video id, listed comment count)`` of every video still to fetch, in listing order;
    with ``all_history`` also those complete but for the history of a thread (a crawl without
    --all-history completed them)."""
    to_fetch = collection_videos.c.state.in_(TO_FETCH)
    if all_history:
        complete = collection_videos.c.state == "complete"
        to_fetch = or_(to_fetch, and_(complete, _unwalked(collection_videos.c.video_id)))
    return [
        (row.video_id, row.comment_count)
        for row in connection.execute(
            select(collection_videos.c.video_id, collection_videos.c.comment_count)
            .where(collection_videos.c.collection_id == collection_id, to_fetch)
            .order_by(collection_videos.c.position, collection_videos.c.video_id)
        )
    ]


def video_crawl_state(connection: Connection, collection_id: int, video_id: str) -> str | None:
    return connection.execute(
        select(collection_videos.c.state).where(_video(collection_id, video_id))
    ).scalar_one_or_none()


def begin_video(connection: Connection, collection_id: int, video_id: str) -> None:
    connection.execute(
        update(collection_videos)
        .where(_video(collection_id, video_id))
        .values(state="partial", reason="started, not finished")
    )


def finish_video(
    connection: Connection,
    collection_id: int,
    video_id: str,
    state: str,
    *,
    reason: str | None = None,
    stored: int | None = None,
) -> None:
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    values = {"state": state, "reason": reason, "fetched_at": now_utc()}
    if stored is not None:
        values["stored"] = stored
    connection.execute(
        update(collection_videos).where(_video(collection_id, video_id)).values(**values)
    )


def _video(collection_id: int, video_id: str):
    return and_(
        collection_videos.c.collection_id == collection_id,
        collection_videos.c.video_id == video_id,
    )


def collection_reports(connection: Connection, name: str | None = None) -> list[CollectionReport]:
    """Per collection: videos listed, by state, comments stored vs the listing's counts, and the
    failed videos with their reasons."""
    query = select(collections).order_by(collections.c.id)
    if name is not None:
        query = query.where(collections.c.name == name)
    reports = []
    for row in connection.execute(query).all():
        report = CollectionReport(row.name, row.title, crawled_at=row.crawled_at)
        where = collection_videos.c.collection_id == row.id
        for state, count, listed in connection.execute(
            select(
                collection_videos.c.state,
                func.count(),
                func.sum(collection_videos.c.comment_count),
            )
            .where(where)
            .group_by(collection_videos.c.state)
        ):
            report.states[state] = count
            report.listed += count
            if listed is not None:  # a channel's pages, a file, a query: no count to add up
                report.comments_listed = (report.comments_listed or 0) + int(listed)
        report.comments_stored = connection.execute(
            select(func.count())
            .select_from(comments)
            .where(comments.c.video_id.in_(select(collection_videos.c.video_id).where(where)))
        ).scalar_one()
        report.failures = [
            (r.video_id, r.reason or "")
            for r in connection.execute(
                select(collection_videos.c.video_id, collection_videos.c.reason)
                .where(where, collection_videos.c.state == "failed")
                .order_by(collection_videos.c.position)
            )
        ]
        reports.append(report)
    return reports


# --- the shared request budget --------------------------------------------------------------


def take_slot(
    connection: Connection, account: str, host: str, now: float, interval: float
) -> float:
    """Reserve the next request slot of ``account`` on ``host``: returns when it starts (Unix
    s; wait until then). One row per account and host, updated under its row lock."""
    statement = insert_on_conflict(connection, rate_budgets).values(
        account=account, host=host, next_slot=now + interval
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["account", "host"],
            set_={
                "next_slot": func.max(rate_budgets.c.next_slot, now) + interval
                if connection.dialect.name == "sqlite"
                else func.greatest(rate_budgets.c.next_slot, now) + interval
            },
        )
    )
    slot_end = connection.execute(
        select(rate_budgets.c.next_slot).where(
            rate_budgets.c.account == account, rate_budgets.c.host == host
        )
    ).scalar_one()
    return slot_end - interval


def hold_budget(connection: Connection, account: str, host: str, until: float) -> None:
    """No request of ``account`` to ``host`` before ``until`` (a server asked everyone to wait)."""
    statement = insert_on_conflict(connection, rate_budgets).values(
        account=account, host=host, next_slot=until
    )
    greatest = func.max if connection.dialect.name == "sqlite" else func.greatest
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["account", "host"],
            set_={"next_slot": greatest(rate_budgets.c.next_slot, until)},
        )
    )
