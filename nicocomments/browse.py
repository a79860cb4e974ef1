"""`nico browse`: what Datasette needs to show a nicocomments database well.

`datasette_metadata` describes every table and column (from `nicocomments.schema`'s docs),
facets on video, fork and user, the full-text search index of migration 0002 wired to
``comments``, and canned queries for the README's SQL recipes (density, completeness, runs,
changes). The command (`nicocomments.cli.browse`) serves it; nothing here imports Datasette,
so the metadata is plain data, testable without it.
"""

from __future__ import annotations

from pathlib import Path

from nicocomments import __version__
from nicocomments.schema import metadata
from nicocomments.store import SEARCH_INDEX, SEARCH_PENDING

TABLE_DESCRIPTIONS = {
    "videos": "One row per video nico stored something of: title, length, when posted and fetched.",
    "threads": "Each comment thread of a video (main, owner, easy, …): what the server last "
    "reported and the state of the backward walk through its history.",
    "comments": "Every stored comment, its latest state (a re-crawl updates nicoru count, score "
    "and deletion). Unique on (thread_id, fork, no).",
    "fetch_runs": "Every fetch and import: mode, options, status, pages, requests, comments added.",
    "skipped_seconds": "Seconds a history walk had to step over: a whole page came from them, so "
    "they may hold comments the server would not return.",
    "comment_observations": "What re-crawls saw change: a row each time a comment's nicoru "
    "count, score or deletion differed from the last state stored.",
    "collections": "Each collection nico crawl was given (a user's uploads, a mylist, a series, "
    "a tag, a search, ids from a file or a query) and when it was listed and crawled.",
    "collection_videos": "The videos of each collection as its listing showed them, with each "
    "one's crawl state (pending, complete, partial, failed and why).",
    "rate_budgets": "The request budget shared by every crawl worker of one account and host.",
    "live_events": "Niconico Live messages that are not comments (gifts, notifications, "
    "nicoads, …), each with its kind and its fields as JSON.",
}

FACETS = {
    "comments": ["video_id", "fork", "user_id"],
    "threads": ["video_id", "fork"],
    "fetch_runs": ["video_id", "protocol", "status"],
    "videos": [],
    "skipped_seconds": ["fork"],
    "comment_observations": ["run_id", "is_deleted"],
    "collections": ["kind"],
    "collection_videos": ["collection_id", "state"],
    "rate_budgets": [],
    "live_events": ["video_id", "kind"],
}

# The README's SQL recipes, as canned queries (parameters are :names Datasette asks for).
CANNED_QUERIES = {
    "comments_per_fork": {
        "title": "Comments per video and fork",
        "sql": "SELECT video_id, fork, count(*) AS comments, sum(is_deleted) AS deleted\n"
        "FROM comments GROUP BY video_id, fork ORDER BY video_id, fork",
    },
    "density": {
        "title": "Density: viewers' comments per bin of video time",
        "description": "Comments per :seconds of video time (owner and deleted comments left "
        "out), as nico analyze counts them.",
        "sql": "SELECT second, printf('%d:%02d', second / 60, second % 60) AS at, comments\n"
        "FROM (SELECT vpos_ms / (CAST(:seconds AS INTEGER) * 1000) * CAST(:seconds AS INTEGER)"
        " AS second, count(*) AS comments\n"
        "  FROM comments WHERE video_id = :video_id AND fork <> 'owner' AND NOT is_deleted\n"
        "    AND vpos_ms >= 0 GROUP BY second)\nORDER BY second",
    },
    "busiest_moments": {
        "title": "The busiest ten seconds of a video",
        "sql": "SELECT vpos_ms / 10000 * 10 AS second, count(*) AS comments FROM comments\n"
        "WHERE video_id = :video_id AND fork = 'main' AND NOT is_deleted\n"
        "GROUP BY second ORDER BY comments DESC LIMIT 5",
    },
    "per_year": {
        "title": "Comments per year of posting",
        "sql": "SELECT strftime('%Y', posted_at) AS year, count(*) AS comments FROM comments\n"
        "WHERE video_id = :video_id GROUP BY year ORDER BY year",
    },
    "completeness": {
        "title": "Completeness: is each history complete, and how far from the server's count?",
        "sql": "SELECT t.video_id, t.thread_id, t.fork, t.history_complete, t.history_end,\n"
        "  coalesce(t.comment_count, t.last_res) AS server_count, count(c.id) AS stored\n"
        "FROM threads t LEFT JOIN comments c USING (thread_id, fork)\n"
        "GROUP BY t.thread_id, t.fork ORDER BY t.video_id, t.fork",
    },
    "runs": {
        "title": "Every run, newest first",
        "sql": "SELECT id, video_id, protocol, mode, status, pages, requests, comments_added,\n"
        "  started_at, finished_at, error FROM fetch_runs ORDER BY id DESC",
    },
    "changes": {
        "title": "What each re-crawl saw change",
        "description": "Per run: comments it saw deleted (or no longer served) and comments "
        "whose nicoru count or score it saw move (nico diff tells them apart per comment).",
        "sql": "SELECT o.run_id, r.video_id, r.started_at, sum(o.is_deleted) AS deleted,\n"
        "  count(*) - sum(o.is_deleted) AS changed FROM comment_observations o\n"
        "JOIN comments c ON c.id = o.comment_row_id\n"
        "JOIN fetch_runs r ON r.id = o.run_id\n"
        "WHERE o.id NOT IN (SELECT min(id) FROM comment_observations GROUP BY comment_row_id)\n"
        "GROUP BY o.run_id ORDER BY o.run_id",
    },
}


def database_name(path: str | Path) -> str:
    """The name Datasette gives a database file: its name without the extension."""
    return Path(path).stem


def datasette_metadata(path: str | Path, *, searchable: bool = True) -> dict:
    """Datasette's metadata for the nicocomments database at ``path`` (SQLite).
    ``searchable``: the database has the full-text index (an SQLite without the trigram
    tokenizer has none)."""
    tables: dict[str, dict] = {}
    for table in metadata.sorted_tables:
        entry: dict = {
            "description": TABLE_DESCRIPTIONS[table.name],
            "columns": {column.name: column.doc or "" for column in table.columns},
            "facets": FACETS[table.name],
        }
        tables[table.name] = entry
    tables["comments"]["sort_desc"] = "id"
    if searchable:
        tables["comments"].update(fts_table=SEARCH_INDEX, fts_pk="id")
        tables[SEARCH_INDEX] = {"hidden": True}
    tables[SEARCH_PENDING] = {"hidden": True}
    tables["alembic_version"] = {
        "description": "The schema revision (Alembic): nico db upgrade moves it forward.",
        "columns": {"version_num": "the revision"},
    }
    return {
        "title": "nicocomments",
        "description": "Niconico comments collected by nico (nicocomments "
        f"{__version__}). Full-text search: any text of three characters or more.",
        "source": "nicocomments",
        "databases": {
            database_name(path): {
                "tables": tables,
                "queries": CANNED_QUERIES,
            }
        },
    }
