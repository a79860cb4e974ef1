"""ch.nicovideo.jp: a channel's video list pages (collections.md §1), HTML as the real ones are
read: no API, the video ids are in the list's links.

* ``GET /{slug}/video?page=N``: the free list, `PAGE_SIZE` videos a page, newest first;
  ``/video/pay?page=N`` the paid list. ``page`` from 1 (missing or unreadable: 1); a page past
  the end has no videos. Each video is a list item whose thumbnail and title both link to
  ``https://www.nicovideo.jp/watch/so…?ref=…`` (two links to one video); the page around it
  links the channel's other pages, the pager and the site (none of them a video).
* ``GET /{slug}``: the channel's top page (links to both lists).
* A slug or ``ch…`` id of no channel, or the paid list of a channel that has none
  (`Channel.pay_video_ids` None): a 404 page.
No counts: the list pages nico reads give ids, so the emulator gives nothing more to rely on.
"""

from __future__ import annotations

import html
import re

from nicocomments.config import ENDPOINT_ENV_VARS
from nicosandbox import web
from nicosandbox.routes.watchdata import iso_jst
from nicosandbox.state import State, Surface
from nicosandbox.world import Channel

PAGE_SIZE = 20
WATCH_URL = "https://www.nicovideo.jp/watch/"
_PATH = re.compile(r"/([A-Za-z0-9_-]{1,64})(/video(/pay)?)?/?")


class ChannelRoutes:
    def __init__(self, state: State) -> None:
        self.state = state

    def handle(self, request: web.Request) -> web.Response:
        match = _PATH.fullmatch(request.path)
        if request.method not in ("GET", "HEAD") or match is None:
            return web.not_found()
        channel = self.state.world.channel(match.group(1))
        if channel is None:
            return web.not_found()
        if match.group(2) is None:
            return _top_page(channel)
        return self._list_page(channel, paid=match.group(3) is not None, page=_page(request))

    def _list_page(self, channel: Channel, *, paid: bool, page: int) -> web.Response:
        ids = channel.pay_video_ids if paid else channel.video_ids
        if ids is None:
            return web.not_found()
        chosen = ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        world = self.state.world
        base = f"/{channel.slug}/video" + ("/pay" if paid else "")
        if chosen:
            items = "\n".join(_item(world.videos[v], paid) for v in chosen)
            listing = f'<ul class="items">\n{items}\n</ul>'
        else:
            listing = '<p class="empty">該当する動画はありません</p>'
        pager = []
        if page > 1:
            pager.append(f'<a href="{base}?page={page - 1}" class="prev">前へ</a>')
        if page * PAGE_SIZE < len(ids):
            pager.append(f'<a href="{base}?page={page + 1}" class="next">次へ</a>')
        which = "有料動画" if paid else "動画"
        body = (
            _header(channel)
            + f'<section class="site_body"><h2>{which}</h2>\n'
            + f'<div class="g-videolist">\n{listing}\n</div>\n'
            + f'<div class="pager">{" ".join(pager)}</div></section>\n'
            + _footer()
        )
        return web.page(f"{which} - {channel.name} - ニコニコチャンネル", body)


def _page(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


def _item(video, paid: bool) -> str:
    link = f"{WATCH_URL}{video.video_id}?ref=ch_video_list"
    title = html.escape(video.title)
    minutes, seconds = divmod(video.duration_s, 60)
    posted = iso_jst(video.posted_at)
    badge = '<span class="purchase_type">有料</span>' if paid else ""
    return (
        f'<li class="item">\n'
        f'  <div class="item_left"><a href="{link}" class="thumb_anchor" title="{title}">'
        f'<img class="thumb" src="https://nicovideo.cdn.nimg.jp/thumbnails/{video.video_id[2:]}"'
        f' alt=""></a><span class="badge length">{minutes}:{seconds:02d}</span>{badge}</div>\n'
        f'  <div class="item_right"><h6 class="title"><a href="{link}" title="{title}">{title}'
        f'</a></h6><p class="time"><time datetime="{posted}">{posted[:16]}</time>'
        f"</p></div>\n</li>"
    )


def _header(channel: Channel) -> str:
    name = html.escape(channel.name)
    top = f"https://ch.nicovideo.jp/{channel.slug}"
    return (
        f'<header><a href="https://www.nicovideo.jp/">niconico</a> '
        f'<a href="{top}"><h1>{name}</h1></a>\n<nav>'
        f'<a href="{top}">トップ</a> <a href="{top}/video">動画</a> '
        f'<a href="{top}/video/pay">有料動画</a> <a href="{top}/blomaga">ブロマガ</a> '
        f'<a href="{top}/live">生放送</a></nav></header>\n'
    )


def _footer() -> str:
    return (
        '<footer><a href="https://ch.nicovideo.jp/">ニコニコチャンネル</a> '
        '<a href="https://www.nicovideo.jp/watch/">動画</a> '
        '<a href="https://site.nicovideo.jp/term/">利用規約</a></footer>'
    )


def _top_page(channel: Channel) -> web.Response:
    return web.page(f"{channel.name} - ニコニコチャンネル", _header(channel) + _footer())


SURFACE = Surface(
    group="channel",
    host="ch.nicovideo.jp",
    routes=ChannelRoutes,
    env_var=ENDPOINT_ENV_VARS["channel"],
)
