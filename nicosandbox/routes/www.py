"""www.nicovideo.jp: the login check, watch pages and the watch data API (protocol.md §3.1).

* ``GET /watch/<id>``: HTML with ``<meta name="server-response" content="…">``, the
  HTML-escaped ``{"meta":{"status"},"data":{"response":<watch data>}}`` (guest or logged-in
  flavour by the ``user_session`` cookie; an unknown or expired cookie reads as a guest). Every
  known id has one, ``so…`` ids included, and any thread id works too. On refusals the page
  has the refusal's HTTP status and ``data.response`` is ``{isCustomError, statusCode,
  errorCode, reasonCode, …}``. ``?responseType=json`` answers the same JSON directly.
* ``GET /api/watch/v3/<id>`` (needs a valid session: 401 UNAUTHORIZED without one) and
  ``/api/watch/v3_guest/<id>`` (always the guest flavour): ``actionTrackId`` and the frontend
  headers (or yt-dlp's older ``_frontendId``/``_frontendVersion`` query) are required, else 400
  INVALID_PARAMETER. Answers ``{"meta":{"status":200},"data":<watch data>}`` or
  ``{"meta":{"status","errorCode"},"data":{"reasonCode",…}}``.

Knobs (`Settings`): ``maintenance`` makes all three answer 503 MAINTENANCE;
``watch_api_enabled=False`` makes ``/api/watch/*`` a 404 HTML page; ``watch_page_meta=False``
leaves the meta tag out of the page. ``reasonCode`` is null where no source names one
(unknown ids, UNAUTHORIZED, INVALID_PARAMETER, MAINTENANCE).
"""

from __future__ import annotations

import html
import json
import re

from nicocomments.config import ENDPOINT_ENV_VARS
from nicosandbox import web
from nicosandbox.access import UNKNOWN_VIDEO, refusal
from nicosandbox.routes import watchdata
from nicosandbox.state import State, Surface

_WATCH = re.compile(r"/watch/([A-Za-z]{0,2}\d+)/?")
_WATCH_API = re.compile(r"/api/watch/(v3|v3_guest)/([^/]+)/?")
_VIDEO_ID = re.compile(r"[a-z]{0,2}\d+")
MAINTENANCE = (503, "MAINTENANCE", None)


def has_frontend(request: web.Request, *, version: bool = True) -> bool:
    """``X-Frontend-Id`` (a number) and ``X-Frontend-Version``, as headers or as the
    ``_frontendId``/``_frontendVersion`` query parameters of 2022-era clients."""
    frontend_id = request.headers.get("X-Frontend-Id") or request.query.get("_frontendId", "")
    frontend_version = request.headers.get("X-Frontend-Version") or request.query.get(
        "_frontendVersion", ""
    )
    return frontend_id.strip().isdigit() and (not version or bool(frontend_version.strip()))


class WwwRoutes:
    def __init__(self, state: State) -> None:
        self.state = state

    def handle(self, request: web.Request) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            return web.not_found()
        account = self.state.sessions.lookup(request.cookies)
        if request.path in ("", "/"):
            response = web.page("niconico", "<h1>niconico</h1>")
            flag = "0" if account is None else ("3" if account.is_premium else "1")
            response.headers.append(("x-niconico-authflag", flag))
            if account is not None:
                response.headers.append(("x-niconico-id", account.user_id))
            return response
        if request.path.rstrip("/") == "/my":
            if account is None:
                return web.redirect(f"{self.state.url('account')}/login?next_url=%2Fmy")
            return web.page("マイページ - niconico", f"<h1>{html.escape(account.nickname)}</h1>")
        match = _WATCH_API.fullmatch(request.path)
        if match:
            return self._watch_api(request, match.group(2), guest=match.group(1) == "v3_guest")
        match = _WATCH.fullmatch(request.path)
        if match:
            return self._watch_page(request, match.group(1))
        return web.not_found()

    # -- /api/watch/v3(_guest)/<id> -------------------------------------------------------------

    def _watch_api(self, request: web.Request, video_id: str, *, guest: bool) -> web.Response:
        self.state.stats.count_watch(video_id)
        if not self.state.settings.watch_api_enabled:
            return web.not_found()
        if self.state.settings.maintenance:
            return self._api_error(MAINTENANCE)
        if not request.query.get("actionTrackId", "").strip() or not has_frontend(request):
            return self._api_error((400, "INVALID_PARAMETER", None))
        account = None
        if not guest:
            account = self.state.sessions.lookup(request.cookies)
            if account is None:
                return self._api_error((401, "UNAUTHORIZED", None))
        video = (
            watchdata.find_video(self.state.world, video_id)
            if _VIDEO_ID.fullmatch(video_id)
            else None
        )
        if video is None:
            return self._api_error(UNKNOWN_VIDEO)
        refused = refusal(video, account)
        if refused is not None:
            return self._api_error(refused, video)
        data = watchdata.build(self.state, video, account)
        return web.json_response({"meta": {"status": 200}, "data": data})

    def _api_error(self, refused, video=None) -> web.Response:
        status, error_code, reason = refused
        return web.api_error(status, error_code, watchdata.error_data(video, reason))

    # -- /watch/<id> ----------------------------------------------------------------------------

    def _watch_page(self, request: web.Request, video_id: str) -> web.Response:
        self.state.stats.count_watch(video_id)
        account = self.state.sessions.lookup(request.cookies)
        video = watchdata.find_video(self.state.world, video_id)
        if self.state.settings.maintenance:
            refused = MAINTENANCE
        elif video is None:
            refused = UNKNOWN_VIDEO
        else:
            refused = refusal(video, account)
        if refused is None:
            status = 200
            payload = {
                "meta": {"status": 200},
                "data": {"response": watchdata.build(self.state, video, account)},
            }
        else:
            status, error_code, reason = refused
            payload = {
                "meta": {"status": status, "code": error_code},
                "data": {"response": watchdata.custom_error(status, error_code, reason, video)},
            }
        if request.query.get("responseType") == "json":
            return web.json_response(payload, status)
        title = html.escape(video.title) if video is not None else "ニコニコ動画"
        meta = ""
        if self.state.settings.watch_page_meta:
            content = html.escape(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
            meta = f'<meta name="server-response" content="{content}">'
        notice = '<p class="deleted">この動画は視聴できません</p>' if refused else ""
        return _watch_html(f"{title} - ニコニコ動画", meta, f"<h1>{title}</h1>\n{notice}", status)


def _watch_html(title: str, meta: str, body: str, status: int) -> web.Response:
    doc = (
        '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
        f"<title>{title}</title>\n{meta}\n</head>\n<body>\n"
        f'<div id="root">{body}</div>\n</body></html>\n'
    )
    return web.Response(status, doc.encode("utf-8"), web.HTML)


SURFACE = Surface(
    group="www", host="www.nicovideo.jp", routes=WwwRoutes, env_var=ENDPOINT_ENV_VARS["www"]
)
