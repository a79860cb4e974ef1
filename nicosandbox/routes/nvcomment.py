"""The nvcomment server: ``POST /v1/threads`` (protocol.md §3.3–3.7).

Request: ``{"params": {"targets": [{"id", "fork"}…], "language"}, "threadKey", "additionals"}``
as ``text/plain;charset=UTF-8`` or ``application/json`` (``?pc=1`` ignored). ``X-Frontend-Id``
is required; cookies are not looked at (the official player sends ``credentials: omit``): the
thread key is the identity. Checks, in order (the first failure answers, HTTP 400 unless said):

  1. rate limit (``rate_limit_per_minute`` requests in any sliding 60 s of ``Sandbox.clock``,
     counted across all clients; only admitted requests count) → 429 TOO_MANY_REQUESTS
  2. no ``X-Frontend-Id``, another content type, a malformed body, an unknown fork or thread,
     a bad ``when``/``res_from`` → INVALID_PARAMETER
  3. a key this server did not sign → INVALID_TOKEN; past ``exp`` or used more than
     ``key_max_uses`` times (each request spends one use) → EXPIRED_TOKEN; ``tids`` not
     covering a target, or a guest key (no ``uid``) with ``when`` → INVALID_TOKEN

Answer: one thread object per target, in request order, comments ascending by ``no`` (seeded
shuffle when ``shuffle_chats`` is on). Deleted comments are left out (their numbers are
skipped). ``commentCount`` is the thread's newest ``no``, i.e. every comment ever posted,
deleted ones included (as the legacy ``last_res``), with or without ``when``.
``globalComments`` is ``[{"id": <the video's getflv thread>, "count": <sum of the
commentCounts of its main and easy threads>}]`` (owner comments excluded, as in the HAR sample
where 9853 = 9807 main + 46 easy).

Without ``when`` (the current window): owner → its newest ≤ 1000 comments; main/easy → the
newest W non-deleted comments (W by video length: 100/250/500/1000, as the legacy window),
``source: "trunk"``, plus a per-minute fill, ``"leaf"``: for each minute of the video (by
``vposMs``, in order) the newest comments not in the trunk until that minute holds
`LEAF_PER_MINUTE` (trunk comments included), at most `LEAF_CAP` leaf comments in all. This
reproduces the real nm14999484 answer (250 trunk + 89 leaf).
With ``when`` (``res_from`` optional, default −1000, |res_from| capped at 1000): the newest
≤ |res_from| non-deleted comments posted at or before ``when`` (inclusive), all ``"trunk"``.
"""

from __future__ import annotations

import json
import random
import threading
from bisect import bisect_left, bisect_right
from typing import Any

from nicocomments.records import FORKS
from nicosandbox import keys as k
from nicosandbox import web
from nicosandbox.routes.watchdata import iso_jst
from nicosandbox.state import State, Surface
from nicosandbox.world import MAX_WINDOW, CommentTable, Video, retention_window

LEAF_PER_MINUTE = 100
LEAF_CAP = 1000
DEFAULT_RES_FROM = -1000
CONTENT_TYPES = ("", "text/plain", "application/json")
_EMPTY = CommentTable(id_prefix="", trunk_size=0)


class BadRequest(Exception):
    def __init__(self, error_code: str) -> None:
        super().__init__(error_code)
        self.error_code = error_code


class NvcommentRoutes:
    def __init__(self, state: State) -> None:
        self.state = state
        self._rng = random.Random(state.seed)
        self._rng_lock = threading.Lock()

    def handle(self, request: web.Request) -> web.Response:
        if request.path.rstrip("/") != "/v1/threads" or request.method != "POST":
            return web.api_error(404, "NOT_FOUND")
        try:
            return self._threads(request)
        except BadRequest as exc:
            code = exc.error_code
        status = 429 if code == "TOO_MANY_REQUESTS" else 400
        response = web.api_error(status, code)
        response.on_sent.append(lambda: self.state.stats.count_v1_error(code))
        return response

    # -- one request ----------------------------------------------------------------------------

    def _threads(self, request: web.Request) -> web.Response:
        limit = self.state.settings.rate_limit_per_minute
        if not self.state.rate_window.admit(self.state.clock(), limit):
            raise BadRequest("TOO_MANY_REQUESTS")
        targets, token, when, count = self._parse(request)
        self._check_key(token, targets, when)
        threads = [self._thread(tid, fork, when, count) for tid, fork in targets]
        video = self.state.world.video_for_thread(targets[0][0])
        payload = {
            "meta": {"status": 200},
            "data": {
                "globalComments": [{"id": video.main_thread_id, "count": self._global(video)}],
                "threads": threads,
            },
        }
        if self.state.settings.voltage_zone is not None:
            payload["data"]["voltageZone"] = self.state.settings.voltage_zone
        response = web.json_response(payload)
        stats, past = self.state.stats, when is not None

        def count_answer() -> None:
            for tid, fork in targets:
                stats.count_v1_thread(tid, fork, with_when=past)

        response.on_sent.append(count_answer)
        return response

    def _parse(self, request: web.Request) -> tuple[list[tuple[str, str]], str, int | None, int]:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not request.headers.get("X-Frontend-Id") or content_type not in CONTENT_TYPES:
            raise BadRequest("INVALID_PARAMETER")
        try:
            body = json.loads(request.body.decode("utf-8"))
            params = body["params"]
            raw_targets = params["targets"]
            token = body["threadKey"]
            additionals = body.get("additionals") or {}
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError):
            raise BadRequest("INVALID_PARAMETER") from None
        if (
            not isinstance(raw_targets, list)
            or not raw_targets
            or not isinstance(token, str)
            or not isinstance(additionals, dict)
            or not isinstance(params.get("language", "ja-jp"), str)
        ):
            raise BadRequest("INVALID_PARAMETER")
        targets = []
        for target in raw_targets:
            if not isinstance(target, dict):
                raise BadRequest("INVALID_PARAMETER")
            tid, fork = target.get("id"), target.get("fork")
            if isinstance(tid, int) and not isinstance(tid, bool):
                tid = str(tid)
            if not isinstance(tid, str) or not isinstance(fork, str):
                raise BadRequest("INVALID_PARAMETER")
            if fork not in FORKS and self.state.world.thread(tid, fork) is None:
                raise BadRequest("INVALID_PARAMETER")
            if self.state.world.video_for_thread(tid) is None:
                raise BadRequest("INVALID_PARAMETER")
            targets.append((tid, fork))
        when = _number(additionals.get("when"))
        res_from = _number(additionals.get("res_from", DEFAULT_RES_FROM))
        if res_from is None or res_from == 0 or ("when" in additionals and when is None):
            raise BadRequest("INVALID_PARAMETER")
        return targets, token, when, min(abs(res_from), MAX_WINDOW)

    def _check_key(self, token: str, targets: list[tuple[str, str]], when: int | None) -> None:
        claims = self.state.thread_keys.claims(token)
        if claims is None:
            raise BadRequest("INVALID_TOKEN")
        verdict = self.state.thread_keys.use(claims, self.state.settings.key_max_uses)
        if verdict == k.EXPIRED:
            raise BadRequest("EXPIRED_TOKEN")
        if verdict != k.VALID:
            raise BadRequest("INVALID_TOKEN")
        covered = {str(t) for t in claims.get("tids") or ()}
        if any(tid not in covered for tid, _ in targets):
            raise BadRequest("INVALID_TOKEN")
        if when is not None and not claims.get("uid"):
            raise BadRequest("INVALID_TOKEN")  # past logs need a logged-in key (§3.7)

    def _global(self, video: Video) -> int:
        total = 0
        for tid, fork in video.threads:
            thread = self.state.world.thread(tid, fork)
            if fork != "owner" and thread is not None and len(thread.comments):
                total += thread.comments.nos[-1]
        return total

    # -- one thread ------------------------------------------------------------------------------

    def _thread(self, tid: str, fork: str, when: int | None, count: int) -> dict[str, Any]:
        thread = self.state.world.thread(tid, fork)
        table = thread.comments if thread is not None else _EMPTY
        if when is not None:
            picked = [
                (i, "trunk") for i in _newest(table, bisect_right(table.posted_at, when), count)
            ]
        elif fork == "owner":
            picked = [(i, "trunk") for i in _newest(table, len(table), MAX_WINDOW)]
        else:
            video = self.state.world.video_for_thread(tid)
            picked = _window(table, retention_window(video.duration_s))
        comments = [_comment(table, i, source) for i, source in picked]
        if self.state.settings.shuffle_chats:
            with self._rng_lock:
                self._rng.shuffle(comments)
        return {
            "id": tid,
            "fork": fork,
            "commentCount": table.nos[-1] if len(table) else 0,
            "comments": comments,
        }


def _number(value: object) -> int | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return int(value // 1)


def _newest(table: CommentTable, hi: int, count: int) -> list[int]:
    """Positions of the newest `count` non-deleted comments before position `hi`, ascending."""
    deleted, out, i = table.deleted, [], hi - 1
    while i >= 0 and len(out) < count:
        if not deleted[i]:
            out.append(i)
        i -= 1
    out.reverse()
    return out


def _window(table: CommentTable, size: int) -> list[tuple[int, str]]:
    trunk = _newest(table, len(table), size)
    trunk_start = trunk[0] if trunk else len(table)
    vpos, deleted = table.vpos_ms, table.deleted
    per_minute: dict[int, int] = {}
    for i in trunk:
        minute = max(0, vpos[i] // 60_000)
        per_minute[minute] = per_minute.get(minute, 0) + 1
    leaf: list[int] = []
    for minute, positions in sorted(table.minute_index().items()):
        need = min(LEAF_PER_MINUTE - per_minute.get(minute, 0), LEAF_CAP - len(leaf))
        j = bisect_left(positions, trunk_start) - 1
        while need > 0 and j >= 0:
            i = positions[j]
            if not deleted[i]:
                leaf.append(i)
                need -= 1
            j -= 1
        if len(leaf) >= LEAF_CAP:
            break
    picked = [(i, "trunk") for i in trunk] + [(i, "leaf") for i in leaf]
    picked.sort()
    return picked


def _comment(t: CommentTable, i: int, source: str) -> dict[str, Any]:
    return {
        "id": t.comment_id(i),
        "no": t.nos[i],
        "vposMs": t.vpos_ms[i],
        "body": t.content[i],
        "commands": t.commands[i].split(),
        "userId": t.user_id[i],
        "isPremium": t.is_premium(i),
        "score": t.score[i],
        "postedAt": iso_jst(t.posted_at[i]),
        "nicoruCount": t.nicoru[i],
        "nicoruId": None,
        "source": source,
        "isMyPost": False,
    }


# Clients learn its address from watch data (``nvComment.server``), never from an env var.
SURFACE = Surface(group="nvcomment", host="public.nvcomment.nicovideo.jp", routes=NvcommentRoutes)
