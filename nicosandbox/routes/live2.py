"""live2.nicovideo.jp: Niconico Live's timeshift API (live.md §5).

``POST /live2/api/v2/programs/lv<N>/timeshift/reservation`` (``X-Frontend-Id`` and a
  session needed) reserves; ``PATCH`` on the same address starts watching. Answers are
  ``{"meta":{"status"[,"errorCode","errorMessage"]}[,"data"]}``:

      200                     reserved / started
      400 DUPLICATED          POST: already reserved (harmless)
      400 INVALID_PARAMETER   no X-Frontend-Id
      401 UNAUTHORIZED        no (valid) session
      403 NO_PERMISSION       premium-only timeshift, general account ("Are you a premium member?")
      403 EXPIRED             the timeshift window has passed
      403 NOT_AVAILABLE       the broadcaster offered no timeshift
      404 NOT_FOUND           unknown program; PATCH: RESERVATION_NOT_FOUND before a POST

  (live.md names only DUPLICATED and the premium message; the other codes are this
  emulator's, see the README's live section.)
"""

from __future__ import annotations

import re

from nicocomments.config import ENDPOINT_ENV_VARS
from nicosandbox import web
from nicosandbox.liveworld import TIMESHIFT_NONE, TIMESHIFT_PREMIUM, LiveProgram
from nicosandbox.routes.www import has_frontend
from nicosandbox.state import State, Surface
from nicosandbox.world import Account

_RESERVATION = re.compile(r"/api/v2/programs/(lv\d+)/timeshift/reservation/?")


class Live2Routes:
    def __init__(self, state: State) -> None:
        self.state = state

    def handle(self, request: web.Request) -> web.Response:
        match = _RESERVATION.fullmatch(request.path)
        if not match or request.method not in ("POST", "PATCH"):
            return web.api_error(404, "NOT_FOUND")
        if not has_frontend(request, version=False):
            return web.api_error(400, "INVALID_PARAMETER")
        account = self.state.sessions.lookup(request.cookies)
        if account is None:
            return web.api_error(401, "UNAUTHORIZED")
        program = self.state.world.live_programs.get(match.group(1))
        if program is None:
            return web.api_error(404, "NOT_FOUND")
        refused = self._refusal(program, account)
        if refused is not None:
            return refused
        key = (account.user_id, program.program_id)
        live = self.state.live
        with live.lock:
            if request.method == "POST":
                if key in live.reservations:
                    return web.api_error(400, "DUPLICATED")
                live.reservations[key] = False
                return web.json_response(
                    {"meta": {"status": 200}, "data": {"expiryTime": program.timeshift_expires_at}}
                )
            if key not in live.reservations:
                return web.api_error(404, "RESERVATION_NOT_FOUND")
            live.reservations[key] = True
        return web.json_response({"meta": {"status": 200}})

    def _refusal(self, program: LiveProgram, account: Account) -> web.Response | None:
        if program.timeshift == TIMESHIFT_NONE:
            return web.api_error(403, "NOT_AVAILABLE")
        expires = program.timeshift_expires_at
        if expires is not None and self.state.clock() >= expires:
            return web.api_error(403, "EXPIRED")
        if program.timeshift == TIMESHIFT_PREMIUM and not account.is_premium:
            body = {
                "meta": {
                    "status": 403,
                    "errorCode": "NO_PERMISSION",
                    "errorMessage": "Are you a premium member?",
                }
            }
            return web.json_response(body, 403)
        return None


SURFACE = Surface(
    group="live2",
    host="live2.nicovideo.jp",
    routes=Live2Routes,
    env_var=ENDPOINT_ENV_VARS["live2"],
)
