"""What re-crawls saw change: `load_observations`, `observation_series` and `diff_video`.

``comment_observations`` holds a row each time a fetch found a stored comment in another state
(nicoru count, score, deletion), starting with the state it changed from; a comment without
observations never changed. So the state of a comment after run R is its last observation of
a run ≤ R, or, without one, the comments row itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, Engine, select

from nicocomments.analysis.load import (
    STRING,
    UTC_TIME,
    _connection,
    _unix_to_utc,
    load_query,
    typed,
)
from nicocomments.errors import BadInput
from nicocomments.records import CHANGE_KINDS
from nicocomments.schema import comment_observations, comments, fetch_runs
from nicocomments.store import posted_unix

#: The columns of `load_observations` and their dtypes.
OBSERVATION_DTYPES: dict[str, object] = {
    "video_id": STRING,
    "thread_id": STRING,
    "fork": STRING,  # not an enumeration: servers add forks ("ai")
    "no": "int64",
    "comment_row_id": "int64",
    "run_id": "Int64",
    "nicoru_count": "Int64",
    "score": "Int64",
    "is_deleted": "bool",
    "seen_at": UTC_TIME,
}

#: The columns of each of `diff_video`'s frames.
CHANGE_COLUMNS = (
    "thread_id",
    "fork",
    "no",
    "vpos_ms",
    "posted_at",
    "content",
    "user_id",
    "nicoru_before",
    "nicoru_after",
    "score_before",
    "score_after",
    "deleted_reason",  # legacy: 1 poster, 2 operator, …; NA: no longer served (or not deleted)
    "run_id",
    "seen_at",
)


def load_observations(
    db: str | Engine | Connection, video_id: str | None = None, *, tz: str = "UTC"
) -> pd.DataFrame:
    """Every observation (dtypes: `OBSERVATION_DTYPES`), with the comment it is about, in the
    order they were recorded. Empty for a video never seen to change.

    ``obs.groupby("run_id")["is_deleted"].sum()`` counts the deletions each re-crawl saw.

    Example (sm9 of the demo database was fetched once: nothing was seen to change)::

        >>> obs = load_observations("nico-demo.db", "sm9")
        >>> len(obs), list(obs.columns[:4])
        (0, ['video_id', 'thread_id', 'fork', 'no'])
    """
    query = (
        select(
            comments.c.video_id,
            comments.c.thread_id,
            comments.c.fork,
            comments.c.no,
            comment_observations.c.comment_row_id,
            comment_observations.c.run_id,
            comment_observations.c.nicoru_count,
            comment_observations.c.score,
            comment_observations.c.is_deleted,
            comment_observations.c.seen_at,
        )
        .join(comments, comments.c.id == comment_observations.c.comment_row_id)
        .order_by(comment_observations.c.id)
    )
    if video_id is not None:
        query = query.where(comments.c.video_id == video_id)
    with _connection(db) as connection:
        frame = typed(load_query(query, connection), OBSERVATION_DTYPES)
    if tz != "UTC":
        frame["seen_at"] = frame["seen_at"].dt.tz_convert(tz)
    return frame


def observation_series(
    observations: pd.DataFrame, column: str = "nicoru_count", *, total: bool = False
) -> pd.DataFrame:
    """``column`` (``nicoru_count`` or ``score``) of each observed comment over time: one row
    per moment something was seen (``seen_at``), one column per comment (``fork/thread/no``),
    each value carried forward until the next observation of that comment (a missing count,
    which the legacy server sends for 0, is 0). ``total=True``: one column, ``total``, the sum
    over the observed comments.

    ``observation_series(obs, "nicoru_count", total=True).plot(drawstyle="steps-post")``
    draws it.

    Example::

        >>> observation_series(load_observations("nico-demo.db", "sm9"), total=True)
        Empty DataFrame
        Columns: [total]
        Index: []
    """
    if column not in ("nicoru_count", "score"):
        raise BadInput(f"observation_series follows nicoru_count or score, not {column!r}")
    frame = observations.assign(
        comment=observations["fork"].astype(str)
        + "/"
        + observations["thread_id"].astype(str)
        + "/"
        + observations["no"].astype(str),
        value=observations[column].fillna(0).astype("int64"),
    ).drop_duplicates(["seen_at", "comment"], keep="last")
    wide = frame.pivot(index="seen_at", columns="comment", values="value").sort_index().ffill()
    wide.columns.name = None
    if total:
        return wide.fillna(0).sum(axis=1).astype("int64").to_frame("total")
    return wide


@dataclass
class Changes:
    """What changed between two moments (`diff_video`): one frame per kind of
    `CHANGE_KINDS`, each with the columns of `CHANGE_COLUMNS`."""

    video_id: str
    first_run: int | None  # the state after this run …
    last_run: int | None  # … against the state after this one
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {kind: len(self.frames[kind]) for kind in CHANGE_KINDS}

    def records(self, kind: str) -> list[dict]:
        """The comments of one kind as plain dicts (JSON-ready: None for missing values,
        ISO 8601 text for times)."""
        frame = self.frames[kind]
        rows = []
        for row in frame.itertuples(index=False):
            record = {}
            for name, value in zip(frame.columns, row, strict=True):
                if value is None or value is pd.NA or value is pd.NaT:
                    record[name] = None
                elif isinstance(value, pd.Timestamp):
                    record[name] = value.isoformat()
                elif hasattr(value, "item"):
                    record[name] = value.item()
                else:
                    record[name] = value
            rows.append(record)
        return rows

    def fork_counts(self) -> dict[str, dict[str, int]]:
        """`by_fork` as plain dicts: fork → kind → count."""
        table = self.by_fork()
        return {
            str(fork): {kind: int(row[kind]) for kind in CHANGE_KINDS}
            for fork, row in table.iterrows()
        }

    def by_fork(self) -> pd.DataFrame:
        """How many of each kind, per fork (rows: forks; columns: `CHANGE_KINDS`)."""
        rows = {kind: self.frames[kind]["fork"].astype(str).value_counts() for kind in CHANGE_KINDS}
        table = pd.DataFrame(rows).reindex(columns=list(CHANGE_KINDS)).fillna(0).astype("int64")
        table.index.name = "fork"
        return table.sort_index()


def diff_video(
    db: str | Engine | Connection,
    video_id: str,
    *,
    since: datetime | None = None,
    runs: tuple[int | None, int | None] | None = None,
) -> Changes:
    """Comments added, deleted (or no longer served), restored (deleted before, served again),
    and with another nicoru count or score, between the state after run A and the state after
    run B (``runs=(A, B)``; None: the video's first run, its last run). ``since``: A is the
    last run that started before it. Without either, everything since the first run that
    stored the video's comments.

    Example::

        >>> diff_video("nico-demo.db", "sm9").counts()
        {'added': 0, 'deleted': 0, 'restored': 0, 'nicoru_changed': 0, 'score_changed': 0}
    """
    with _connection(db) as connection:
        video_runs = connection.execute(
            select(fetch_runs.c.id, fetch_runs.c.started_at, fetch_runs.c.finished_at)
            .where(fetch_runs.c.video_id == video_id)
            .order_by(fetch_runs.c.id)
        ).all()
        first_run, last_run = _bounds(video_runs, since, runs)
        observations = load_observations(connection, video_id)
        posted = posted_unix(connection.dialect.name).label("posted_at")
        wanted = comments.c.run_id > (first_run if first_run is not None else -1)
        if last_run is not None:
            wanted &= comments.c.run_id <= last_run
        # The comments seen to change, asked of the database (however many there are: one
        # bound value per comment would pass SQLite's limit on a big video).
        wanted |= (
            select(comment_observations.c.id)
            .where(comment_observations.c.comment_row_id == comments.c.id)
            .exists()
        )
        query = select(
            comments.c.id,
            comments.c.run_id.label("stored_by"),
            comments.c.thread_id,
            comments.c.fork,
            comments.c.no,
            comments.c.vpos_ms,
            posted,
            comments.c.content,
            comments.c.user_id,
            comments.c.nicoru_count,
            comments.c.score,
            comments.c.is_deleted,
            comments.c.deleted_reason,
        ).where((comments.c.video_id == video_id) & wanted)
        rows = load_query(query, connection)
    seen = {run_id: finished or started for run_id, started, finished in video_runs}
    rows["posted_at"] = _unix_to_utc(rows["posted_at"])
    return _changes(video_id, first_run, last_run, rows, observations, seen)


def _bounds(video_runs, since, runs) -> tuple[int | None, int | None]:
    """The runs A and B of `diff_video`; ``video_runs`` are (id, started_at, finished_at)."""
    ids = [run_id for run_id, _, _ in video_runs]
    if since is not None and runs is not None:
        raise BadInput("give --since or --runs, not both")
    if runs is not None:
        first, last = runs
        if first is not None and last is not None and first > last:
            raise BadInput(f"--runs {first}..{last}: the first run must not be after the last")
        return (ids[0] if first is None and ids else first), (
            ids[-1] if last is None and ids else last
        )
    if since is not None:
        before = [run_id for run_id, started, _ in video_runs if started < since]
        return (before[-1] if before else None), (ids[-1] if ids else None)
    return (ids[0] if ids else None), (ids[-1] if ids else None)


def _changes(video_id, first_run, last_run, rows, observations, seen) -> Changes:
    rows = rows.set_index("id")
    stored_by = rows["stored_by"]
    existed = stored_by.le(first_run) if first_run is not None else stored_by.isna() & False
    top = last_run if last_run is not None else float("inf")
    in_range = stored_by.gt(first_run if first_run is not None else -1) & stored_by.le(top)

    def state(run: float | None) -> pd.DataFrame:
        """Each row's (nicoru_count, score, is_deleted, run_id) after ``run``."""
        current = rows[["nicoru_count", "score", "is_deleted"]].assign(run_id=stored_by)
        if run is None:
            return current.iloc[0:0]
        past = observations[observations["run_id"].fillna(0) <= run]
        # The last row of each comment as it is (GroupBy.last would skip missing values).
        last = past.drop_duplicates("comment_row_id", keep="last").set_index("comment_row_id")
        changed = rows.index.isin(observations["comment_row_id"])
        # Rows with observations: their last one up to `run`; without: never changed.
        out = current[~changed]
        observed = last[["nicoru_count", "score", "is_deleted", "run_id"]]
        return pd.concat([out, observed[observed.index.isin(rows.index)]])

    before = state(first_run)
    after = state(top)
    both = (
        rows[existed]
        .join(before.add_suffix("_a"), how="inner")
        .join(after.add_suffix("_b"), how="inner")
    )
    deleted_a, deleted_b = both["is_deleted_a"].astype(bool), both["is_deleted_b"].astype(bool)
    nicoru_a, nicoru_b = both["nicoru_count_a"].fillna(0), both["nicoru_count_b"].fillna(0)
    score_a, score_b = both["score_a"].fillna(0), both["score_b"].fillna(0)
    alive = ~deleted_a & ~deleted_b
    picks = {
        "deleted": both[~deleted_a & deleted_b],
        # Deleted (or no longer served) at A, served again at B: moderation undone, or a
        # comment a pass missed.
        "restored": both[deleted_a & ~deleted_b],
        "nicoru_changed": both[alive & (nicoru_a != nicoru_b)],
        "score_changed": both[alive & (score_a != score_b)],
    }
    frames = {"added": _frame(rows[in_range], seen, added=True)}
    for kind, picked in picks.items():
        frames[kind] = _frame(picked, seen)
    return Changes(video_id, first_run, last_run, {k: frames[k] for k in CHANGE_KINDS})


def _frame(picked: pd.DataFrame, seen: dict, *, added: bool = False) -> pd.DataFrame:
    if added:
        run = picked["stored_by"]
        out = picked.assign(
            nicoru_before=pd.NA,
            nicoru_after=picked["nicoru_count"],
            score_before=pd.NA,
            score_after=picked["score"],
            run_id=run,
        )
    else:
        run = picked["run_id_b"]
        out = picked.assign(
            nicoru_before=picked["nicoru_count_a"],
            nicoru_after=picked["nicoru_count_b"],
            score_before=picked["score_a"],
            score_after=picked["score_b"],
            run_id=run,
        )
    out = out.assign(seen_at=[seen.get(int(r)) if pd.notna(r) else None for r in out["run_id"]])
    out = out.sort_values(["fork", "thread_id", "no"])
    frame = out.reindex(columns=list(CHANGE_COLUMNS)).reset_index(drop=True)
    dtypes = {
        "thread_id": STRING,
        "fork": STRING,
        "no": "int64",
        "vpos_ms": "int64",
        "posted_at": UTC_TIME,
        "content": STRING,
        "user_id": STRING,
        "nicoru_before": "Int64",
        "nicoru_after": "Int64",
        "score_before": "Int64",
        "score_after": "Int64",
        "deleted_reason": "Int64",
        "run_id": "Int64",
        "seen_at": UTC_TIME,
    }
    return typed(frame, dtypes)
