"""nvapi.nicovideo.jp's listings (collections.md §1), served by the nvapi surface:

    GET /v3/users/{id}/videos?sortKey=registeredAt&sortOrder=desc&pageSize=&page=
        → data.totalCount, data.items[].essential (the video), beside items[].series
    GET /v2/users/{id}/videos (same parameters) → data.items[] are the videos
    GET /v2/mylists/{id}?pageSize=&page=
        → data.mylist {name, totalItemCount, hasNext, items[].video}
    GET /v2/series/{id} → data.detail, data.totalCount, data.items[].video (one answer)

Every call needs the frontend headers (else 400 INVALID_PARAMETER); an unknown user, mylist or
series is 404 NOT_FOUND, a private mylist 403 FORBIDDEN. User listings leave out deleted and
private videos; mylists and series keep them (``status`` "deleted").
"""

from __future__ import annotations

import re
from typing import Any

from nicosandbox import web
from nicosandbox.routes.watchdata import iso_jst
from nicosandbox.routes.www import has_frontend
from nicosandbox.state import State
from nicosandbox.world import Video

_USER = re.compile(r"/v([23])/users/([0-9]+)/videos")
_MYLIST = re.compile(r"/v2/mylists/([0-9]+)")
_SERIES = re.compile(r"/v2/series/([0-9]+)")
MAX_PAGE_SIZE = 100


def handle(state: State, request: web.Request) -> web.Response | None:
    """The answer to a listing request, or None when ``request`` is not one."""
    path = request.path.rstrip("/")
    for pattern, route in ((_USER, _user), (_MYLIST, _mylist), (_SERIES, _series)):
        match = pattern.fullmatch(path)
        if match:
            if request.method != "GET" or not has_frontend(request, version=False):
                return web.api_error(400, "INVALID_PARAMETER")
            return route(state, request, *match.groups())
    return None


def video_object(state: State, video: Video) -> dict[str, Any]:
    world = state.world
    last = world.last_comment_at(video.video_id)
    return {
        "type": "essential",
        "id": video.video_id,
        "title": video.title,
        "registeredAt": iso_jst(video.posted_at),
        "count": {
            "view": 1000 + len(video.title) * 7,
            "comment": world.comment_count(video.video_id),
            "mylist": 3,
            "like": 5,
        },
        "duration": video.duration_s,
        "latestCommentAt": iso_jst(last) if last is not None else None,
        "isDeleted": bool(video.deleted),
        "owner": {"ownerType": "user", "id": video.uploader_id},
    }


def _paging(request: web.Request) -> tuple[int, int] | None:
    try:
        size = int(request.query.get("pageSize", "100"))
        page = int(request.query.get("page", "1"))
    except ValueError:
        return None
    if not 1 <= size <= MAX_PAGE_SIZE or page < 1:
        return None
    return size, page


def _user(state: State, request: web.Request, version: str, user_id: str) -> web.Response:
    paging = _paging(request)
    if paging is None:
        return web.api_error(400, "INVALID_PARAMETER")
    videos = [v for v in state.world.uploads(user_id) if not v.deleted]
    if not videos:
        return web.api_error(404, "NOT_FOUND")
    size, page = paging
    if request.query.get("sortOrder") == "asc":
        videos.reverse()
    chosen = videos[(page - 1) * size : page * size]
    objects = [video_object(state, v) for v in chosen]
    items = [{"series": None, "essential": o} for o in objects] if version == "3" else objects
    return web.json_response(
        {"meta": {"status": 200}, "data": {"totalCount": len(videos), "items": items}}
    )


def _mylist(state: State, request: web.Request, mylist_id: str) -> web.Response:
    mylist = state.world.mylists.get(mylist_id)
    if mylist is None:
        return web.api_error(404, "NOT_FOUND")
    if not mylist.public:
        return web.api_error(403, "FORBIDDEN")
    paging = _paging(request)
    if paging is None:
        return web.api_error(400, "INVALID_PARAMETER")
    size, page = paging
    ids = mylist.video_ids
    chosen = ids[(page - 1) * size : page * size]
    items = []
    for position, video_id in enumerate(chosen, start=(page - 1) * size + 1):
        video = state.world.videos[video_id]
        items.append(
            {
                "itemId": position,
                "watchId": video_id,
                "status": "deleted" if video.deleted else "public",
                "video": video_object(state, video),
            }
        )
    data = {
        "mylist": {
            "id": int(mylist_id),
            "name": mylist.name,
            "owner": {"ownerType": "user", "id": mylist.owner_id},
            "totalItemCount": len(ids),
            "hasNext": page * size < len(ids),
            "items": items,
        }
    }
    return web.json_response({"meta": {"status": 200}, "data": data})


def _series(state: State, request: web.Request, series_id: str) -> web.Response:
    series = state.world.series.get(series_id)
    if series is None:
        return web.api_error(404, "NOT_FOUND")
    items = [
        {
            "meta": {"id": video_id, "order": k + 1},
            "video": video_object(state, state.world.videos[video_id]),
        }
        for k, video_id in enumerate(series.video_ids)
    ]
    data = {
        "detail": {"id": int(series_id), "title": series.name, "owner": {"id": series.owner_id}},
        "totalCount": len(items),
        "items": items,
    }
    return web.json_response({"meta": {"status": 200}, "data": data})
