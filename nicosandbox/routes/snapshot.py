"""snapshot.search.nicovideo.jp: Snapshot Search API v2 (collections.md §2), over the world's
videos (deleted and private ones are not in the index).

    GET /api/v2/snapshot/video/contents/search
        ?q=&targets=&fields=&filters[…]=&_sort=&_offset=&_limit=&_context=
    GET /api/v2/snapshot/version → {"last_modified": …}

``targets`` is ``tagsExact`` (``q`` is one tag) or any of ``title,description,tags`` (every word
of ``q`` in one of them); an empty ``q`` matches everything. Filters: ``filters[F][N]=v``
(equality, any of them) and ``filters[F][gte|gt|lte|lt]=`` on ``startTime``,
``lastCommentTime`` and the counters. Refusals as the real one: no ``_context``, a ``_limit``
over 100, an unknown field, or ``_offset + _limit`` past the offset cap
(`Settings.snapshot_offset_cap`) → 400 QUERY_PARSE_ERROR; `Settings.snapshot_maintenance` →
503 MAINTENANCE. The index time (`Settings.snapshot_index_time`, None: now) is what
``/version`` reports.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from nicocomments.config import ENDPOINT_ENV_VARS
from nicosandbox import web
from nicosandbox.routes.watchdata import iso_jst
from nicosandbox.state import State, Surface
from nicosandbox.world import Video

SEARCH_PATH = "/api/v2/snapshot/video/contents/search"
VERSION_PATH = "/api/v2/snapshot/version"
MAX_LIMIT = 100
FIELDS = (
    "contentId", "title", "description", "userId", "channelId", "viewCounter", "mylistCounter",
    "likeCounter", "lengthSeconds", "commentCounter", "startTime", "lastCommentTime",
    "lastResBody", "thumbnailUrl", "tags", "categoryTags", "genre",
)  # fmt: skip
RANGE_FIELDS = (
    "viewCounter", "mylistCounter", "likeCounter", "lengthSeconds", "commentCounter",
    "startTime", "lastCommentTime",
)  # fmt: skip
_FILTER = re.compile(r"filters\[([A-Za-z]+)\]\[([a-z]+|[0-9]+)\]")
_OPS = {
    "gte": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "lte": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}


class QueryError(ValueError):
    pass


class SnapshotRoutes:
    def __init__(self, state: State) -> None:
        self.state = state

    def handle(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/")
        if request.method != "GET":
            return web.not_found()
        if path == VERSION_PATH:
            when = self.state.settings.snapshot_index_time
            when = self.state.clock() if when is None else when
            return web.json_response({"last_modified": iso_jst(int(when))})
        if path != SEARCH_PATH:
            return web.not_found()
        if self.state.settings.snapshot_maintenance:
            return _error(503, "MAINTENANCE", "under maintenance")
        try:
            return self.search(request.query)
        except QueryError as exc:
            return _error(400, "QUERY_PARSE_ERROR", str(exc))

    def search(self, query: dict[str, str]) -> web.Response:
        context = query.get("_context", "")
        if not context or len(context) > 40:
            raise QueryError("_context is required (at most 40 characters)")
        try:
            offset = int(query.get("_offset", "0"))
            limit = int(query.get("_limit", "10"))
        except ValueError:
            raise QueryError("_offset and _limit are numbers") from None
        if not 0 <= limit <= MAX_LIMIT or offset < 0:
            raise QueryError(f"_limit is at most {MAX_LIMIT}")
        if offset + limit > self.state.settings.snapshot_offset_cap:
            raise QueryError("_offset too large")
        fields = [f for f in query.get("fields", "contentId").split(",") if f]
        if any(f not in FIELDS for f in fields):
            raise QueryError("unknown field")
        targets = [t for t in query.get("targets", "").split(",") if t]
        if not targets or any(
            t not in ("title", "description", "tags", "tagsExact") for t in targets
        ):
            raise QueryError("targets is required")
        rows = [self._row(v) for v in self._index()]
        rows = [r for r in rows if _matches(r, query.get("q", ""), targets)]
        rows = [r for r in rows if _passes(r, query)]
        sort = query.get("_sort", "-viewCounter")
        key = sort.lstrip("+-")
        if key not in RANGE_FIELDS:
            raise QueryError("unknown sort field")
        rows.sort(key=lambda r: (r[key] if r[key] is not None else -1, r["contentId"]),
                  reverse=sort.startswith("-"))  # fmt: skip
        data = [
            {f: (iso_jst(r[f]) if f in ("startTime", "lastCommentTime") and r[f] else r[f])
             for f in fields}
            for r in rows[offset : offset + limit]
        ]  # fmt: skip
        meta = {"status": 200, "totalCount": len(rows), "id": f"sandbox-{self.state.seed}"}
        return web.json_response({"meta": meta, "data": data})

    def _index(self) -> list[Video]:
        return [v for v in self.state.world.videos.values() if not v.deleted]

    def _row(self, video: Video) -> dict[str, Any]:
        world = self.state.world
        return {
            "contentId": video.video_id,
            "title": video.title,
            "description": f"{video.title} のための動画です。nicocrawl",
            "userId": int(video.uploader_id) if video.kind == "user" else None,
            "channelId": None,
            "viewCounter": 1000 + len(video.title) * 7,
            "mylistCounter": 3,
            "likeCounter": 5,
            "lengthSeconds": video.duration_s,
            "commentCounter": world.comment_count(video.video_id),
            "startTime": video.posted_at,
            "lastCommentTime": world.last_comment_at(video.video_id),
            "lastResBody": "",
            "thumbnailUrl": "",
            "tags": " ".join(world.tags.get(video.video_id, ())),
            "categoryTags": "",
            "genre": "",
        }


def _matches(row: dict, q: str, targets: list[str]) -> bool:
    words = q.split()
    if not words:
        return True
    if targets == ["tagsExact"]:
        return q.strip().lower() in (t.lower() for t in row["tags"].split())
    texts = [str(row[t]).lower() for t in targets if t != "tagsExact"]
    return all(any(word.lower() in text for text in texts) for word in words)


def _passes(row: dict, query: dict[str, str]) -> bool:
    equal: dict[str, set[str]] = {}
    for name, value in query.items():
        match = _FILTER.fullmatch(name)
        if not match:
            continue
        field, op = match.groups()
        if field not in FIELDS:
            raise QueryError(f"unknown filter field {field}")
        if op.isdigit():
            equal.setdefault(field, set()).add(value)
            continue
        if op not in _OPS or field not in RANGE_FIELDS:
            raise QueryError(f"no range filter on {field}")
        bound = _number(field, value)
        have = row[field]
        if have is None or not _OPS[op](have, bound):
            return False
    return all(str(row[field]) in values for field, values in equal.items())


def _number(field: str, value: str) -> int:
    if field in ("startTime", "lastCommentTime"):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(f"cannot read the time {value!r}") from None
        if moment.tzinfo is None:
            raise QueryError("a time needs its zone")
        return int(moment.timestamp())
    try:
        return int(value)
    except ValueError:
        raise QueryError(f"{field} takes a number") from None


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"meta": {"status": status, "errorCode": code, "errorMessage": message}}, status
    )


SURFACE = Surface(
    group="snapshot",
    host="snapshot.search.nicovideo.jp",
    routes=SnapshotRoutes,
    env_var=ENDPOINT_ENV_VARS["snapshot"],
)
