"""mpn.live.nicovideo.jp: the NDGR message server (live.md §1.3–1.6, §2, §3). Its addresses
come from the watch WebSocket's ``messageServer`` (``viewUri``) and from its own answers.

* ``GET /mpn/api/view/v4/<view>?at=now``: only ``next{at: now}`` (as reported).
  ``?at=<T>``: held until the clock reaches T (at most one segment's length), then, with T
  capped at now and at the program's end: ``backward`` (everything before the slice holding
  T), ``previous`` (the slice before it), ``segment`` (the slice holding T) and, while the
  program is on air or T is before its end, ``next{at: the slice's end}`` (``next{at: T}``
  with the ``live_next_stuck`` fault: a stream that stops advancing). Slices are
  ``live_segment_seconds`` long, aligned to multiples of it; the first starts at the opening.
* ``GET /mpn/data/segment/v4/<view>/<start>``: the slice's messages as a length-delimited
  stream of ChunkedMessages; a slice not over yet is held until it is (or a slice's length has
  passed) and then holds what was published by then.
* ``GET /mpn/data/backward/v4/<view>/<before>/<hops>``: one PackedSegment: the newest
  `BACKWARD_BATCH` messages before message index ``before``, in ascending time, and
  ``next.uri`` the older batch, until the first message or until the program's
  ``chain_batches`` answers: then the chain ends early, as reported (live.md §6).
* ``GET /mpn/data/snapshot/v4/<view>``: an empty state (nico does not read it).

View tokens are capabilities (no cookie is needed: the CDN answers ``credentials: omit``);
an unknown one is 404.
"""

from __future__ import annotations

import re
import secrets
import time

from nicosandbox import ndgrwire, web
from nicosandbox.liveworld import BACKWARD_BATCH, LiveProgram
from nicosandbox.state import State, Surface

PROTOBUF = "application/octet-stream"
_VIEW = re.compile(r"/api/view/v4/([A-Za-z0-9_-]+)")
_SEGMENT = re.compile(r"/data/segment/v4/([A-Za-z0-9_-]+)/(\d+)")
_BACKWARD = re.compile(r"/data/backward/v4/([A-Za-z0-9_-]+)/(\d+)/(\d+)")
_SNAPSHOT = re.compile(r"/data/snapshot/v4/([A-Za-z0-9_-]+)")
_POLL = 0.05


def view_token(state: State, program_id: str) -> str:
    token = secrets.token_urlsafe(18)
    with state.live.lock:
        state.live.views[token] = program_id
    return token


class MpnRoutes:
    def __init__(self, state: State) -> None:
        self.state = state

    def handle(self, request: web.Request) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            return web.not_found()
        for pattern, answer in (
            (_VIEW, self.view),
            (_SEGMENT, self.segment),
            (_BACKWARD, self.backward),
            (_SNAPSHOT, self.snapshot),
        ):
            match = pattern.fullmatch(request.path)
            if match:
                program = self.state.world.live_programs.get(
                    self.state.live.views.get(match.group(1), "")
                )
                if program is None:
                    return web.not_found()
                return answer(request, program, match.group(1), *match.groups()[1:])
        return web.not_found()

    # -- helpers ------------------------------------------------------------------------------

    @property
    def slice_seconds(self) -> int:
        return max(1, int(self.state.settings.live_segment_seconds))

    def _slice_start(self, program: LiveProgram, moment: int) -> int:
        size = self.slice_seconds
        return program.open_time + max(0, (moment - program.open_time)) // size * size

    def _hold_until(self, moment: float) -> None:
        """A long poll: wait until the clock reaches ``moment``, for at most a slice's length
        of real time; not at all when the clock stands still (a test froze it)."""
        give_up = time.monotonic() + self.slice_seconds
        before = self.state.clock()
        while self.state.clock() < moment and time.monotonic() < give_up:
            time.sleep(_POLL)
            if self.state.clock() == before:
                return

    def _url(self, path: str) -> str:
        return f"{self.state.url('mpn')}{path}"

    def _live_id(self, program: LiveProgram) -> int:
        return int(program.program_id[2:])

    # -- answers ------------------------------------------------------------------------------

    def view(self, request: web.Request, program: LiveProgram, token: str) -> web.Response:
        at = request.query.get("at", "now")
        now = self.state.clock()
        if at == "now":
            body = ndgrwire.delimited([ndgrwire.view_entry_next(int(now))])
            return web.Response(200, body, PROTOBUF)
        if not at.isdigit():
            return web.text("bad at", status=400)
        moment = asked = int(at)
        if moment > now:
            self._hold_until(moment)
            now = self.state.clock()
        moment = int(min(moment, now, program.end_time - 1))
        moment = max(moment, program.open_time)
        size = self.slice_seconds
        start = self._slice_start(program, moment)
        before = program.index_before(start)
        entries = [
            ndgrwire.view_entry_backward(
                self._url(f"/data/backward/v4/{token}/{before}/{program.chain_batches}"),
                start,
                self._url(f"/data/snapshot/v4/{token}"),
            )
        ]
        if start > program.open_time:
            entries.append(
                ndgrwire.view_entry_segment(
                    self._url(f"/data/segment/v4/{token}/{start - size}"),
                    start - size,
                    start,
                    previous=True,
                )
            )
        entries.append(
            ndgrwire.view_entry_segment(
                self._url(f"/data/segment/v4/{token}/{start}"), start, start + size
            )
        )
        if start + size < program.end_time:
            stuck = self.state.settings.live_next_stuck
            entries.append(ndgrwire.view_entry_next(asked if stuck else start + size))
        return web.Response(200, ndgrwire.delimited(entries), PROTOBUF)

    def segment(
        self, request: web.Request, program: LiveProgram, token: str, start_text: str
    ) -> web.Response:
        start = int(start_text)
        end = start + self.slice_seconds
        if self.state.clock() < min(end, program.end_time):
            self._hold_until(min(end, program.end_time))
        messages = program.between(start, end, self.state.clock())
        return web.Response(
            200, ndgrwire.segment_stream(messages, self._live_id(program)), PROTOBUF
        )

    def backward(
        self, request: web.Request, program: LiveProgram, token: str, before: str, hops: str
    ) -> web.Response:
        high = min(int(before), len(program.published(self.state.clock())))
        low = max(0, high - BACKWARD_BATCH)
        left = int(hops) - 1
        next_uri = (
            self._url(f"/data/backward/v4/{token}/{low}/{left}") if low > 0 and left > 0 else None
        )
        body = ndgrwire.packed_segment(
            program.messages[low:high],
            self._live_id(program),
            next_uri,
            self._url(f"/data/snapshot/v4/{token}"),
        )
        return web.Response(200, body, PROTOBUF)

    def snapshot(self, request: web.Request, program: LiveProgram, token: str) -> web.Response:
        return web.Response(200, ndgrwire.delimited([]), PROTOBUF)


SURFACE = Surface(group="mpn", host="mpn.live.nicovideo.jp", routes=MpnRoutes, env_var=None)
