"""Comments of a Parquet dataset, lazily: what `load_comments` would load, as a DuckDB query.

`scan_comments` names a selection (a video or all, forks, deleted or not, a time zone) without
reading it; the analyses of `nicocomments.analysis` take it wherever they take a frame and push
the heavy part into SQL (bins, days, users, texts are grouped by DuckDB over the Parquet files,
on all cores); pandas only shapes the small result, with the same code and dtypes as for a
frame. This module knows SQL and Arrow, not the frames (`analysis.load` and `analysis.compute`
build those from what it returns).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from pathlib import Path

from nicocomments.errors import BadInput
from nicocomments.formats import dataset
from nicocomments.limits import shown
from nicocomments.records import is_fork_name
from nicocomments.store import FORK_ORDER as LOAD_FORKS

#: ``forks=`` for every fork, the owner's included (the default, None, is every fork but the
#: owner's: viewers' comments, whatever forks a server names).
EVERY_FORK = "all"
# `store.fork_order`: FORK_ORDER first, any other fork (by name) after them.
FORK_RANK = (
    "CASE fork "
    + " ".join(f"WHEN '{fork}' THEN {rank}" for rank, fork in enumerate(LOAD_FORKS))
    + f" ELSE {len(LOAD_FORKS)} END"
)
LOAD_ORDER = f"video_id, {FORK_RANK}, fork, thread_id, no"  # load_comments' row order
SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")  # a video id that is its partition's name as written
BUCKET_S = 900  # activity is grouped by DuckDB in quarter hours (every zone's offset is some)


@dataclass(frozen=True)
class CommentScan:
    """A selection of a dataset's comments (see `scan_comments`); not read until used."""

    directory: Path
    video_id: str | None = None
    forks: tuple[str, ...] | str | None = None  # None: every fork but the owner's; EVERY_FORK
    include_deleted: bool = False
    tz: str = "UTC"

    def where(self) -> str:
        conditions = ["true"]
        if self.forks is None:
            conditions.append("fork <> 'owner'")
        elif self.forks != EVERY_FORK:
            conditions.append(f"fork IN ({', '.join(_literal(f) for f in self.forks)})")
        if self.video_id is not None:
            conditions.append(f"video_id = {_literal(self.video_id)}")
        if not self.include_deleted:
            conditions.append("NOT is_deleted")
        return " AND ".join(conditions)

    def relation(self, *, absent: tuple[str, ...] = ()) -> str:
        """The selected rows as a subquery (the partition key left out; the columns
        ``absent`` NULL)."""
        columns = ", ".join(
            f'CAST(NULL AS {t}) AS "{c}"' if c in absent else f'"{c}"'
            for c, t in dataset.COLUMN_TYPES.items()
        )
        source = _video_files_sql(self.directory, self.video_id) or dataset.files_sql(
            self.directory
        )
        return f"(SELECT {columns} FROM {source} WHERE {self.where()})"

    def but(self, **changes) -> CommentScan:
        return replace(self, **changes)

    def query(self, sql: str):
        """``sql`` (``{rows}`` standing for `relation`) as a pyarrow Table."""
        return self._run(
            lambda rows: _connection().cursor().sql(sql.format(rows=rows)).to_arrow_table()
        )

    def rows(self, sql: str) -> list[tuple]:
        return self._run(
            lambda rows: _connection().cursor().execute(sql.format(rows=rows)).fetchall()
        )

    def _run(self, run):
        """``run(relation)``; on a dataset written before the live columns were kept (none of
        its files has them), again with those columns NULL."""
        import duckdb

        with dataset.reading(self.directory):
            try:
                return run(self.relation())
            except duckdb.BinderException as exc:
                if not any(f'"{c}"' in str(exc) for c in dataset.LIVE_COLUMNS):
                    raise
                return run(self.relation(absent=dataset.LIVE_COLUMNS))


def scan_comments(
    directory: str | Path,
    video_id: str | None = None,
    *,
    forks=None,
    include_deleted: bool = False,
    tz: str = "UTC",
) -> CommentScan:
    """The comments of the dataset at ``directory`` (``nico import --to``, ``nico export
    --partitioned``) that `load_comments` would load with the same arguments, as a lazy
    `CommentScan`: pass it to `density`, `highlights`, `activity`, `user_stats`,
    `commands_summary`, `top_terms`, `outside_video` or the corpus analyses instead of a frame,
    and DuckDB does the heavy part. By default every fork but the owner's: ``main``, ``easy``,
    ``live`` and any other a server named (``ai``); ``forks="all"`` is every fork."""
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise BadInput(f"{shown(str(directory))}: no such dataset directory")
    dataset.dataset_partitioning(path)  # a BadInput if it is not one
    if not any(path.glob(dataset.FILE_GLOB)):  # a manifest, nothing written yet
        raise BadInput(f"the dataset {path} holds no comments yet")
    return CommentScan(path, video_id, check_forks(forks), include_deleted, tz)


def check_forks(forks) -> tuple[str, ...] | str | None:
    """``forks=`` of `load_comments` and `scan_comments`: None (every fork but the owner's),
    `EVERY_FORK`, or fork names (any a server named: ``ai`` as well as ``main``)."""
    if forks is None or forks == EVERY_FORK:
        return forks
    if isinstance(forks, str):
        forks = (forks,)
    forks = tuple(forks)
    wrong = sorted({shown(str(f)) for f in forks if not is_fork_name(f)})
    if wrong or not forks:
        raise BadInput(
            f"not a fork: {', '.join(wrong) or 'none given'} "
            f"(forks are {', '.join(LOAD_FORKS)} or others a server named, or {EVERY_FORK!r})"
        )
    return forks


def is_dataset(target) -> bool:
    """Whether ``target`` (what a `load_*` function was given) is a dataset directory."""
    return (
        isinstance(target, Path | str)
        and "://" not in str(target)
        and (Path(target).expanduser().is_dir())
    )


def _video_files_sql(directory: Path, video_id: str | None) -> str | None:
    """``read_parquet`` of one video's own partition (``DIR/video=sm9/``) when the dataset is
    partitioned by video: not the whole dataset's files, whose every schema DuckDB reads before
    filtering (seconds per query on a corpus of thousands of videos, for each chart). None
    when there is no such partition (by month, or an id unsafe as a path)."""
    if video_id is None or not SAFE_ID.fullmatch(video_id):
        return None
    partition = directory / f"video={video_id}"
    if not partition.is_dir() or dataset.dataset_partitioning(directory) != "video":
        return None
    pattern = str(partition / "*.parquet").replace("'", "''")
    return (
        f"read_parquet('{pattern}', hive_partitioning = true, "
        "hive_types = {'video': VARCHAR}, union_by_name = true)"
    )


@functools.cache
def _connection():
    return dataset.connect()


def _literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


# --- what the analyses ask of it ---------------------------------------------------------------


# Columns of the database a dataset does not keep (the runs): NULL, typed as the database types
# them.
_ABSENT = {"run_id": "BIGINT"}


def arrow_comments(scan: CommentScan, columns: list[str]):
    """The selected rows (``columns``; those a dataset does not keep are NULL) in
    `load_comments`' order, as a pyarrow Table (``posted_at`` in UTC)."""
    listed = ", ".join(
        f'"{c}"'
        if c in dataset.COLUMN_TYPES
        else f'CAST(NULL AS {_ABSENT.get(c, "VARCHAR")}) AS "{c}"'
        for c in columns
    )
    return scan.query(f"SELECT {listed} FROM {{rows}} ORDER BY {LOAD_ORDER}")


def _bin(step: int) -> str:
    return f"CAST(floor(vpos_ms / {step}) AS BIGINT)"


def inside(length_ms: int | None) -> str:
    return "vpos_ms >= 0" + (f" AND vpos_ms <= {int(length_ms)}" if length_ms is not None else "")


def bin_counts(scan: CommentScan, step: int, length_ms: int | None) -> tuple[dict, int]:
    """({bin: comments}, number of bins) over the comments inside the video (`compute._bins`)."""
    count = _bin_count(scan, step, length_ms)
    rows = scan.rows(
        f"SELECT least({_bin(step)}, {max(count - 1, 0)}) AS b, count(*) FROM {{rows}} "
        f"WHERE {inside(length_ms)} GROUP BY b"
    )
    return dict(rows), count


def _bin_count(scan: CommentScan, step: int, length_ms: int | None, where: str = "true") -> int:
    if length_ms is not None:
        return max(-(-length_ms // step), 1)
    (top,) = scan.rows(f"SELECT max(vpos_ms) FROM {{rows}} WHERE {inside(None)} AND {where}")[0]
    return 0 if top is None else int(top) // step + 1


def kept_bin_counts(
    scan: CommentScan, step: int, length_ms: int | None, per_user: int
) -> tuple[dict, int]:
    """`highlights`' counts: owner and deleted comments left out, each user at most
    ``per_user`` times per bin."""
    where = f"fork <> 'owner' AND NOT is_deleted AND {inside(length_ms)}"
    count = _bin_count(scan, step, length_ms, where)
    if count == 0:
        return {}, 0
    rows = scan.rows(
        f"SELECT b, sum(CASE WHEN user_id IS NULL THEN n ELSE least(n, {per_user}) END) "
        f"FROM (SELECT least({_bin(step)}, {count - 1}) AS b, user_id, count(*) AS n "
        f"FROM {{rows}} WHERE {where} GROUP BY ALL) GROUP BY b"
    )
    return {int(b): int(n) for b, n in rows}, count


def top_texts(
    scan: CommentScan, step: int, length_ms: int | None, per_user: int, bins: list[int], count: int
) -> dict[int, str]:
    """The most frequent text of each of ``bins`` among `highlights`' kept comments (ties:
    the smallest text), kept as `load_comments`' order keeps them."""
    if not bins:
        return {}
    where = f"fork <> 'owner' AND NOT is_deleted AND {inside(length_ms)}"
    rows = scan.rows(
        f"SELECT b, arg_min(content, (-n, content)) FROM ("
        f" SELECT b, content, count(*) AS n FROM ("
        f"  SELECT least({_bin(step)}, {count - 1}) AS b, content, user_id,"
        f"   row_number() OVER (PARTITION BY least({_bin(step)}, {count - 1}), user_id"
        f"                      ORDER BY {LOAD_ORDER}) AS r"
        f"  FROM {{rows}} WHERE {where})"
        f" WHERE (user_id IS NULL OR r <= {per_user}) AND b IN ({', '.join(map(str, bins))})"
        f" GROUP BY ALL) GROUP BY b"
    )
    return {int(b): text for b, text in rows}


def outside_counts(scan: CommentScan, length_ms: int | None) -> tuple[int, int]:
    after = f"count(*) FILTER (vpos_ms > {int(length_ms)})" if length_ms is not None else "0"
    before, after = scan.rows(f"SELECT count(*) FILTER (vpos_ms < 0), {after} FROM {{rows}}")[0]
    return int(before), int(after or 0)


def activity_buckets(scan: CommentScan, bucket_s: int):
    """Comments per ``bucket_s`` seconds of posting time (UTC bucket starts, as Unix
    seconds): a pyarrow Table (start, comments)."""
    return scan.query(
        f"SELECT CAST(floor(epoch(posted_at) / {bucket_s}) AS BIGINT) * {bucket_s} AS start, "
        f"count(*) AS comments FROM {{rows}} GROUP BY start ORDER BY start"
    )


def command_groups(scan: CommentScan):
    """Comments per (commands, is_anonymous): what `commands_summary` weighs."""
    return scan.query(
        "SELECT coalesce(commands, '') AS commands, is_anonymous, count(*) AS comments "
        "FROM {rows} GROUP BY ALL ORDER BY ALL"
    )


def text_counts(scan: CommentScan, sample: int | None = None, seed: int = 0):
    """Comments per text (deleted ones and NULL texts left out); over a reservoir sample of
    ``sample`` comments when given."""
    rows = "{rows}"
    if sample is not None:
        rows = (
            f"(SELECT * FROM {{rows}} USING SAMPLE reservoir({int(sample)} ROWS) "
            f"REPEATABLE ({int(seed)}))"
        )
    return scan.query(
        f"SELECT content, count(*) AS comments FROM {rows} WHERE NOT is_deleted "
        "AND content IS NOT NULL GROUP BY content"
    )


def user_table(scan: CommentScan, step: int):
    """`user_stats`' figures per user (users without an id left out), and all comments."""
    table = scan.query(
        "SELECT user_id, count(*) AS comments, min(posted_at) AS first_posted_at, "
        "max(posted_at) AS last_posted_at, bool_or(is_premium) AS is_premium, "
        "avg(CAST(is_anonymous AS DOUBLE)) AS anonymous_share, "
        "count(*) - count(DISTINCT content) AS repeated, "
        "max(per_bin) AS max_per_bin FROM ("
        f" SELECT *, count(*) OVER (PARTITION BY user_id, {_bin(step)}) AS per_bin"
        " FROM {rows} WHERE user_id IS NOT NULL) GROUP BY user_id"
    )
    (total,) = scan.rows("SELECT count(*) FROM {rows}")[0]
    return table, int(total)


def facts(scan: CommentScan) -> dict:
    """Counts per fork (`load.FORKS`, then any other fork there is, by name), deleted,
    distinct users, first and last posting time."""
    row = scan.rows(
        "SELECT count(*), count(*) FILTER (is_deleted), "
        "count(DISTINCT user_id) FILTER (fork <> 'owner' AND NOT is_deleted), "
        "min(posted_at), max(posted_at) FROM {rows}"
    )[0]
    counts = scan.rows(
        f"SELECT fork, count(*) FROM {{rows}} GROUP BY fork ORDER BY {FORK_RANK}, fork"
    )
    return {
        "comments": row[0],
        "by_fork": {fork: 0 for fork in LOAD_FORKS} | dict(counts),
        "deleted": row[1],
        "users": row[2],
        "first": row[3],
        "last": row[4],
    }


# --- across videos ------------------------------------------------------------------------------


def monthly_counts(scan: CommentScan):
    """Comments per month of posting (in ``scan.tz``): month start (text), comments.

    Converting every row's time to the zone is most of the work, so it is avoided: rows are
    counted per integer bucket (an integer division each) and only the buckets are converted.
    In a zone whose offset never changes (Japan, UTC) a bucket is a day of the UTC time
    shifted by the offset; in others a quarter hour of UTC (every zone's month starts on one)."""
    offset_s = fixed_offset_s(scan.tz)
    if offset_s is not None:
        day_us = 86_400 * 10**6
        day = _floor_div(f"(epoch_us(posted_at) + {offset_s * 10**6})", day_us)
        return scan.query(
            f"WITH d AS (SELECT {day} AS d, count(*) AS n FROM {{rows}} GROUP BY d) "
            f"SELECT strftime(date_trunc('month', make_timestamp(d * {day_us})), '%Y-%m-%d') "
            "AS month, CAST(sum(n) AS BIGINT) AS comments FROM d GROUP BY month ORDER BY month"
        )
    bucket = f"to_timestamp(b * {BUCKET_S})"
    return scan.query(
        f"WITH q AS (SELECT {_floor_div('epoch_ms(posted_at)', BUCKET_S * 1000)} AS b, "
        "count(*) AS n FROM {rows} GROUP BY b) "
        f"SELECT strftime(date_trunc('month', timezone({_literal(scan.tz)}, {bucket})), "
        "'%Y-%m-%d') AS month, CAST(sum(n) AS BIGINT) AS comments FROM q "
        "GROUP BY month ORDER BY month"
    )


def _floor_div(x: str, d: int) -> str:
    """``floor(x / d)`` of the integer ``x`` (DuckDB's ``//`` rounds toward zero)."""
    return f"CASE WHEN {x} >= 0 THEN {x} // {d} ELSE ({x} + 1) // {d} - 1 END"


@functools.cache
def fixed_offset_s(tz: str) -> int | None:
    """The UTC offset of zone ``tz`` in seconds if it is the same at every month start from
    2006 (before Niconico) to 2100, else None (daylight saving time, or a zone that moved)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        zone = ZoneInfo(tz)
    except (
        KeyError,
        ValueError,
        OSError,
    ):  # not a zone name zoneinfo knows: DuckDB's (ICU's) rules
        return None
    offsets = {
        datetime(year, month, 1, tzinfo=zone).utcoffset()
        for year in range(2006, 2101)
        for month in range(1, 13)
    }
    if len(offsets) != 1:
        return None
    return int(offsets.pop().total_seconds())


def video_counts(scan: CommentScan, n: int):
    """The ``n`` videos with the most comments: video, comments, first and last posted."""
    return scan.query(
        "SELECT video_id, count(*) AS comments, min(posted_at) AS first_posted_at, "
        "max(posted_at) AS last_posted_at FROM {rows} GROUP BY video_id "
        f"ORDER BY comments DESC, video_id LIMIT {int(n)}"
    )


def common_texts(scan: CommentScan, n: int):
    """The ``n`` most common texts: text, comments, in how many videos."""
    return scan.query(
        "SELECT content, count(*) AS comments, count(DISTINCT video_id) AS videos FROM {rows} "
        f"WHERE NOT is_deleted GROUP BY content ORDER BY comments DESC, content LIMIT {int(n)}"
    )
