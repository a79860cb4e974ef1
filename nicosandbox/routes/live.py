"""live.nicovideo.jp: Niconico Live watch pages (live.md §1.1).

* ``GET /live/watch/lv<N>``: HTML with ``<script id="embedded-data" data-props="{…}">``
  (HTML-escaped JSON): ``program`` (nicoliveProgramId, title, status ON_AIR/ENDED/RELEASED,
  openTime, beginTime, vposBaseTime, endTime, scheduledEndTime; Unix seconds) and
  ``site.relive.webSocketUrl``: a fresh audience token's watch WebSocket address on air and
  for an ended program whose timeshift this viewer reserved and started, ``""`` otherwise
  (guests never watch a timeshift). Unknown programs: 404 page.
The timeshift API that opens an ended program to a viewer is `live2`.
"""

from __future__ import annotations

import html
import json
import re
import secrets

from nicocomments.config import ENDPOINT_ENV_VARS
from nicosandbox import web
from nicosandbox.liveworld import LiveProgram
from nicosandbox.state import State, Surface
from nicosandbox.world import Account

_WATCH = re.compile(r"/watch/(lv\d+)/?")


def audience_token(state: State, program: LiveProgram, account: Account | None) -> str:
    token = f"{program.program_id}_{secrets.token_hex(16)}"
    with state.live.lock:
        state.live.tokens[token] = (program.program_id, account.user_id if account else None)
    return token


def may_watch(state: State, program: LiveProgram, account: Account | None) -> bool:
    now = state.clock()
    if program.status(now) != "ENDED":
        return True
    if account is None:
        return False
    return state.live.reservations.get((account.user_id, program.program_id), False)


class LiveRoutes:
    def __init__(self, state: State) -> None:
        self.state = state

    def handle(self, request: web.Request) -> web.Response:
        match = _WATCH.fullmatch(request.path)
        if request.method not in ("GET", "HEAD") or not match:
            return web.not_found()
        program = self.state.world.live_programs.get(match.group(1))
        if program is None:
            return web.page("番組が見つかりません - ニコニコ生放送", "<h1>Not Found</h1>", 404)
        account = self.state.sessions.lookup(request.cookies)
        socket_url = ""
        if may_watch(self.state, program, account) and self.state.live_socket_url:
            token = audience_token(self.state, program, account)
            socket_url = (
                f"{self.state.live_socket_url}/wsapi/v2/watch/{program.program_id}"
                f"?audience_token={token}"
            )
        status = program.status(self.state.clock())
        data = {
            "program": {
                "nicoliveProgramId": program.program_id,
                "title": program.title,
                "status": status,
                "openTime": program.open_time,
                "beginTime": program.begin_time,
                "vposBaseTime": program.vpos_base_time,
                "endTime": program.end_time,
                "scheduledEndTime": program.end_time,
            },
            "site": {"relive": {"webSocketUrl": socket_url}},
            "user": {"isLoggedIn": account is not None},
        }
        props = html.escape(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        body = (
            f'<script id="embedded-data" data-props="{props}"></script>\n'
            f"<h1>{html.escape(program.title)}</h1>"
        )
        return web.page(f"{program.title} - ニコニコ生放送", body)


SURFACE = Surface(
    group="live", host="live.nicovideo.jp", routes=LiveRoutes, env_var=ENDPOINT_ENV_VARS["live"]
)
