"""nvapi.nicovideo.jp: a fresh thread key (protocol.md §3.6), and the listings of users,
mylists and series (`listings`).

``GET /v1/comment/keys/thread?videoId=<id>`` with the frontend headers (and the session
cookie when logged in) → ``{"meta":{"status":200},"data":{"threadKey":"…"}}``. A guest (no
``user_session`` cookie) gets a key without ``uid``; a cookie the site no longer knows is 401
UNAUTHORIZED (a stale session must not silently turn into a guest key). ``videoId`` may be a
video id or a thread id; unknown → 404 NOT_FOUND; videos the viewer may not watch are refused
as the watch data refuses them (`access.refusal`).
"""

from __future__ import annotations

from nicocomments.config import ENDPOINT_ENV_VARS
from nicosandbox import web
from nicosandbox.access import refusal
from nicosandbox.routes import listings, watchdata
from nicosandbox.routes.www import has_frontend
from nicosandbox.state import State, Surface


class NvapiRoutes:
    def __init__(self, state: State) -> None:
        self.state = state

    def handle(self, request: web.Request) -> web.Response:
        if request.path.rstrip("/") == "/v1/comment/keys/thread" and request.method == "GET":
            return self.thread_key(request)
        listing = listings.handle(self.state, request)
        if listing is not None:
            return listing
        return web.api_error(404, "NOT_FOUND")

    def thread_key(self, request: web.Request) -> web.Response:
        video_id = request.query.get("videoId", "").strip()
        if not video_id or not has_frontend(request):
            return web.api_error(400, "INVALID_PARAMETER")
        account = None
        if request.cookies.get("user_session"):
            account = self.state.sessions.lookup(request.cookies)
            if account is None:
                return web.api_error(401, "UNAUTHORIZED")
        video = watchdata.find_video(self.state.world, video_id)
        if video is None:
            return web.api_error(404, "NOT_FOUND")
        refused = refusal(video, account)
        if refused is not None:
            status, error_code, _ = refused
            return web.api_error(status, error_code)
        key = watchdata.thread_key(self.state, video, account)
        return web.json_response({"meta": {"status": 200}, "data": {"threadKey": key}})


SURFACE = Surface(
    group="nvapi", host="nvapi.nicovideo.jp", routes=NvapiRoutes, env_var=ENDPOINT_ENV_VARS["nvapi"]
)
