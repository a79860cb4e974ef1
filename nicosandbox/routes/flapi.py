"""flapi.nicovideo.jp: getflv, getthreadkey and getwaybackkey (protocol.md §1.1–1.3).

Answers are one line of ``key=value`` pairs joined by ``&``, values percent-encoded, in the key
order of the real samples (protocol-samples/getflv_*.txt).
"""

from __future__ import annotations

import re

from nicocomments.config import ENDPOINT_ENV_VARS
from nicosandbox import web
from nicosandbox.state import State, Surface
from nicosandbox.world import Video

_GETFLV = re.compile(r"/api/getflv(?:/(?P<id>[^/?]+))?/?")


class FlapiRoutes:
    def __init__(self, state: State) -> None:
        self.state = state

    def handle(self, request: web.Request) -> web.Response:
        if request.method not in ("GET", "POST"):
            return web.not_found()
        match = _GETFLV.fullmatch(request.path)
        if match:
            return self.getflv(request, match.group("id") or request.query.get("v", ""))
        if request.path.rstrip("/") == "/api/getthreadkey":
            return self.getthreadkey(request)
        if request.path.rstrip("/") == "/api/getwaybackkey":
            return self.getwaybackkey(request)
        return web.not_found()

    def _find_video(self, video_id: str) -> Video | None:
        """sm/nm ids and bare thread ids; not so ids (old clients resolved those via /watch)."""
        world = self.state.world
        if video_id.isdigit():
            return world.video_for_thread(video_id)
        if video_id.startswith("so"):
            return None
        return world.videos.get(video_id)

    def getflv(self, request: web.Request, video_id: str) -> web.Response:
        account = self.state.sessions.lookup(request.cookies)
        if account is None:
            return web.text("closed=1&done=true")
        video = self._find_video(video_id)
        if video is None:
            return web.text("error=invalid_thread&done=true")
        number = re.sub(r"\D", "", video.video_id) or video.main_thread_id
        msg = f"{self.state.url('msg')}/10/api/"
        fields = [
            ("thread_id", video.main_thread_id),
            ("l", "0" if video.deleted else str(video.duration_s)),
            ("url", f"{self.state.root_url}/smile?m={number}.{int(number) % 10000:04d}"),
            ("link", f"http://www.smilevideo.jp/view/{number}/{account.user_id}"),
            ("ms", msg),
            ("ms_sub", f"{self.state.url('msg')}/sub/10/api/"),
        ]
        if video.deleted:
            fields.append(("deleted", str(video.deleted)))
        fields += [
            ("user_id", account.user_id),
            ("is_premium", "1" if account.is_premium else "0"),
            ("nickname", account.nickname),
            ("time", str(int(self.state.clock() * 1000))),
            ("done", "true"),
        ]
        if video.needs_key:
            fields += [("needs_key", "1"), ("optional_thread_id", video.optional_thread_id or "")]
        fields.append(("ng_rv", "1"))
        if not video.deleted:
            fields.append(
                (
                    "userkey",
                    self.state.keys.issue(
                        "userkey", account.user_id, self.state.settings.userkey_lifetime
                    ),
                )
            )
        return web.text(web.form_encode(fields))

    def getthreadkey(self, request: web.Request) -> web.Response:
        account = self.state.sessions.lookup(request.cookies)
        thread_id = request.query.get("thread", "") or request.form().get("thread", "")
        thread = self.state.world.thread(thread_id)
        if account is None or thread is None or not thread.needs_key:
            return web.text("")  # "no key" (and what a logged-out viewer gets)
        key = self.state.keys.issue("threadkey", thread.thread_id, self.state.settings.key_ttl)
        return web.text(
            web.form_encode([("threadkey", key), ("force_184", "1" if thread.force_184 else "0")])
        )

    def getwaybackkey(self, request: web.Request) -> web.Response:
        account = self.state.sessions.lookup(request.cookies)
        thread_id = request.query.get("thread", "") or request.form().get("thread", "")
        allowed = account is not None and (
            account.is_premium or not self.state.settings.past_logs_premium_only
        )
        if not allowed or self.state.world.video_for_thread(thread_id) is None:
            return web.text("waybackkey=")
        return web.text(
            web.form_encode(
                [
                    (
                        "waybackkey",
                        self.state.keys.issue("waybackkey", thread_id, self.state.settings.key_ttl),
                    )
                ]
            )
        )


SURFACE = Surface(
    group="flapi", host="flapi.nicovideo.jp", routes=FlapiRoutes, env_var=ENDPOINT_ENV_VARS["flapi"]
)
