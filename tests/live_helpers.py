"""What the live tests share: reading back what `nico fetch lv…` stored, in the shape of the
emulator's ground truth (`nicosandbox.expected.expected_live_comments`)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from nicosandbox import Sandbox
from nicosandbox.world import Account

LIVE_COLUMNS = (
    "video_id", "thread_id", "fork", "no", "vpos_ms", "posted_at", "date_usec", "content",
    "commands", "user_id", "is_premium", "is_anonymous", "message_id", "is_overflowed", "name",
)  # fmt: skip
BOOLEAN = ("is_premium", "is_anonymous", "is_overflowed")


def stored_live_comments(db: Path, program_id: str) -> list[dict]:
    columns = ", ".join(
        "CAST(strftime('%s', posted_at) AS INTEGER)" if c == "posted_at" else c
        for c in LIVE_COLUMNS
    )
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            f"SELECT {columns} FROM comments WHERE video_id = ? ORDER BY no", (program_id,)
        ).fetchall()
    out = []
    for row in rows:
        record = dict(zip(LIVE_COLUMNS, row, strict=True))
        for name in BOOLEAN:
            record[name] = bool(record[name])
        out.append(record)
    return out


def stored_live_events(db: Path, program_id: str) -> list[dict]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT message_id, kind, CAST(strftime('%s', posted_at) AS INTEGER), payload "
            "FROM live_events WHERE video_id = ?",
            (program_id,),
        ).fetchall()
    return sorted(
        (
            {"message_id": m, "kind": k, "posted_at": at, "payload": json.loads(p)}
            for m, k, at, p in rows
        ),
        key=lambda e: e["message_id"],
    )


def by_no(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: r["no"])


def by_id(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: r["message_id"])


def session_for(sandbox: Sandbox, email: str) -> str:
    """A logged-in ``user_session`` for the account, as `nico login` would get it."""
    account: Account = sandbox.world.accounts[email]
    return sandbox.sessions.create(account)
