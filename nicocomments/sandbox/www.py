"""www.nicovideo.jp: the login check (``x-niconico-authflag``) and watch pages.

The watch page of an ``so…`` id redirects to ``/watch/<thread id>``: that is how Flash-era
clients found the number getflv accepts for channel videos (protocol.md §1.1).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from nicocomments.sandbox import web

if TYPE_CHECKING:
    from nicocomments.sandbox.server import Sandbox

_WATCH = re.compile(r"/watch/([A-Za-z]{0,2}\d+)/?")


class WwwRoutes:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def handle(self, request: web.Request) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            return web.not_found()
        account = self.sb.sessions.lookup(request.cookies)
        if request.path in ("", "/"):
            response = web.page("niconico", "<h1>niconico</h1>")
            flag = "0" if account is None else ("3" if account.is_premium else "1")
            response.headers.append(("x-niconico-authflag", flag))
            if account is not None:
                response.headers.append(("x-niconico-id", account.user_id))
            return response
        if request.path.rstrip("/") == "/my":
            if account is None:
                return web.redirect(f"{self.sb.account_url}/login?next_url=%2Fmy")
            return web.page("マイページ - niconico", f"<h1>{html.escape(account.nickname)}</h1>")
        match = _WATCH.fullmatch(request.path)
        if match:
            return self._watch(match.group(1))
        return web.not_found()

    def _watch(self, video_id: str) -> web.Response:
        world = self.sb.world
        if video_id.startswith("so"):
            video = world.videos.get(video_id)
            if video is None:
                return web.not_found()
            return web.redirect(f"{self.sb.www_url}/watch/{video.main_thread_id}", status=302)
        video = world.videos.get(video_id)
        if video is None and video_id.isdigit():
            video = world.video_for_thread(video_id)
        if video is None:
            return web.not_found()
        title = html.escape(video.title)
        notice = '<p class="deleted">この動画は視聴できません</p>' if video.deleted else ""
        return web.page(f"{title} - ニコニコ動画", f"<h1>{title}</h1>\n{notice}")
