"""Real comment threads shipped with the package (MIT-licensed sources; see data/README.md).

Each ``data/*.jsonl.gz`` holds one JSON object per comment, already converted into the world's
model and sorted by (fork, no). The videos around them carry synthetic ids where the original
video is unknown.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources

from nicocomments.records import NUMBER_BY_FORK
from nicosandbox import world as w

# (file, video id, title, duration, posted_at, uploader id, thread id)
REAL_THREADS = (
    (
        "nm14999484_1310476906.jsonl.gz",
        w.REAL_NM_VIDEO_ID,
        "実在スレッド (nm14999484, niwango.js)",
        150,
        1310476906,
        "358504",
        w.REAL_NM_THREAD_ID,
    ),
    (
        "apijson_1428845905.jsonl.gz",
        w.REAL_OLD_VIDEO_ID,
        "実在スレッド (1428845905, comment-zouryou)",
        270,
        1428845905,
        "5000002",
        w.REAL_OLD_THREAD_ID,
    ),
    (
        "apijson_1512298011.jsonl.gz",
        w.REAL_NEW_VIDEO_ID,
        "実在スレッド (1512298011, comment-zouryou)",
        85,
        1512298011,
        "5000003",
        w.REAL_NEW_THREAD_ID,
    ),
)
LABELS = {"main": "default", "owner": "owner", "easy": "easy"}


def load_rows(filename: str) -> list[dict]:
    raw = resources.files("nicosandbox").joinpath("data", filename).read_bytes()
    return [json.loads(line) for line in gzip.decompress(raw).decode("utf-8").splitlines() if line]


def add_real_videos(world: w.World) -> None:
    for filename, video_id, title, duration, posted_at, uploader, thread_id in REAL_THREADS:
        window = w.retention_window(duration)
        tables: dict[str, w.CommentTable] = {}
        for row in load_rows(filename):
            fork = row["fork"]
            table = tables.get(fork)
            if table is None:
                size = window if fork != "owner" else 10**9
                table = tables[fork] = w.CommentTable(
                    id_prefix=f"{1 + NUMBER_BY_FORK[fork]}{thread_id}", trunk_size=size
                )
            table.append(
                no=row["no"],
                vpos_ms=row["vpos_ms"],
                posted_at=row["posted_at"],
                date_usec=row.get("date_usec"),
                content=row.get("content", ""),
                commands=row.get("commands", ""),
                user_id=uploader
                if fork == "owner" and not row.get("user_id")
                else row.get("user_id", ""),
                is_premium=row.get("is_premium", False),
                is_anonymous=row.get("is_anonymous", False),
                deleted_reason=row.get("deleted"),
                score=row.get("score", 0),
                nicoru_count=row.get("nicoru_count", 0),
                comment_id=row.get("comment_id"),
                source=row.get("source"),
            )
        order = sorted(tables, key=lambda fork: ("main", "owner", "easy").index(fork))
        threads = [
            w.Thread(thread_id, fork, LABELS[fork], video_id, tables[fork]) for fork in order
        ]
        world.add(
            w.Video(
                video_id,
                title,
                duration,
                posted_at,
                "user",
                uploader,
                thread_id,
                tuple((thread_id, fork) for fork in order),
            ),
            threads,
        )
