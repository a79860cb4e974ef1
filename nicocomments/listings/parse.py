"""Listing answers → records. Pure: dicts in, records out (collections.md §1–2).

nvapi answers are ``{"meta": {"status": 200}, "data": {...}}`` with ``errorCode`` in ``meta`` on
errors; Snapshot Search answers ``{"meta": {"status", "totalCount"}, "data": [...]}`` with
``errorCode``/``errorMessage`` in ``meta`` on errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nicocomments.chats import unix_seconds
from nicocomments.errors import BadAnswer, Refused, ServerError, VideoNotFound
from nicocomments.ids import parse_video_id
from nicocomments.limits import shown

# nvapi errorCode → message (a private or deleted collection is an error, not an empty crawl)
NVAPI_ERRORS = {
    "NOT_FOUND": "was not found (deleted, or never existed)",
    "FORBIDDEN": "is private",
    "INVALID_PARAMETER": "was refused as an invalid request",
}
SNAPSHOT_ERRORS = {
    "QUERY_PARSE_ERROR": "the search query was refused (QUERY_PARSE_ERROR)",
    "INTERNAL_SERVER_ERROR": "the search server failed (INTERNAL_SERVER_ERROR)",
    "MAINTENANCE": "the search server is under maintenance (MAINTENANCE)",
}


@dataclass(frozen=True)
class ListedVideo:
    """One video as a listing shows it; counts and times as the listing had them (Unix s)."""

    video_id: str
    title: str | None = None
    posted_at: int | None = None
    comment_count: int | None = None
    last_comment_at: int | None = None


@dataclass(frozen=True)
class ListingPage:
    videos: list[ListedVideo]
    total: int | None = None  # what the server says the whole listing holds
    has_next: bool | None = None  # when the server says so (mylists)
    title: str | None = None  # the collection's own name, when the answer gives it


class SnapshotRefused(ServerError):
    """Snapshot Search answered an error (``code``: QUERY_PARSE_ERROR, MAINTENANCE, …)."""


def parse_user_videos(payload: Any) -> ListingPage:
    """``/v3/users/{id}/videos`` (items carry the video under ``essential``) or the older
    ``/v2/users/{id}/videos`` (items are the videos)."""
    data = _nvapi_data(payload, "the user's videos")
    items = _list(data.get("items"), "data.items")
    videos = [_nvapi_video(item.get("essential", item), "user videos") for item in _dicts(items)]
    return ListingPage(videos, total=_int(data.get("totalCount")))


def parse_mylist(payload: Any) -> ListingPage:
    """``/v2/mylists/{id}``: ``data.mylist`` with ``items[].video``, ``hasNext``,
    ``totalItemCount``."""
    data = _nvapi_data(payload, "the mylist")
    mylist = data.get("mylist")
    if not isinstance(mylist, dict):
        raise BadAnswer("the mylist answer has no data.mylist")
    items = _list(mylist.get("items"), "data.mylist.items")
    videos = [_nvapi_video(item.get("video"), "mylist") for item in _dicts(items)]
    has_next = mylist.get("hasNext")
    return ListingPage(
        videos,
        total=_int(mylist.get("totalItemCount")),
        has_next=has_next if isinstance(has_next, bool) else None,
        title=_str(mylist.get("name")),
    )


def parse_series(payload: Any) -> ListingPage:
    """``/v2/series/{id}``: one answer, ``data.items[].video``."""
    data = _nvapi_data(payload, "the series")
    items = _list(data.get("items"), "data.items")
    videos = [_nvapi_video(item.get("video"), "series") for item in _dicts(items)]
    detail = data.get("detail")
    title = _str(detail.get("title")) if isinstance(detail, dict) else None
    return ListingPage(videos, total=_int(data.get("totalCount")), title=title)


def nvapi_error(payload: Any) -> str | None:
    """The ``errorCode`` of an nvapi answer, if it is an error."""
    if isinstance(payload, dict) and isinstance(payload.get("meta"), dict):
        code = payload["meta"].get("errorCode")
        return code if isinstance(code, str) else None
    return None


def collection_error(code: str | None, status: int, what: str) -> Refused | ServerError:
    """The error for an nvapi listing that refused (``what``: "mylist/5")."""
    if code in ("NOT_FOUND",) or status == 404:
        return VideoNotFound(f"{what} {NVAPI_ERRORS['NOT_FOUND']}", status=status, code=code)
    if code in NVAPI_ERRORS:
        return Refused(f"{what} {NVAPI_ERRORS[code]}", status=status, code=code)
    if status == 403:
        return Refused(f"{what} {NVAPI_ERRORS['FORBIDDEN']}", status=status, code=code)
    return BadAnswer(f"{what}: nvapi answered HTTP {status} ({code or 'no errorCode'})")


def parse_snapshot(payload: Any) -> ListingPage:
    """A Snapshot Search answer; raises `SnapshotRefused` for an error answer."""
    if not isinstance(payload, dict) or not isinstance(payload.get("meta"), dict):
        raise BadAnswer("Snapshot Search answered something that is not its JSON")
    meta = payload["meta"]
    code = meta.get("errorCode")
    if meta.get("status") != 200 or code:
        code = code if isinstance(code, str) else None
        message = SNAPSHOT_ERRORS.get(code or "", f"Snapshot Search failed ({code})")
        detail = meta.get("errorMessage")
        if isinstance(detail, str) and detail:
            message += f": {shown(detail, 120)}"
        raise SnapshotRefused(message, status=_int(meta.get("status")), code=code)
    rows = _list(payload.get("data"), "data")
    videos = []
    for row in _dicts(rows):
        content_id = row.get("contentId")
        if not isinstance(content_id, str):
            raise BadAnswer("a Snapshot Search hit has no contentId")
        videos.append(
            ListedVideo(
                _video_id(content_id),
                title=_str(row.get("title")),
                posted_at=_listed_time(row.get("startTime")),
                comment_count=_int(row.get("commentCounter")),
                last_comment_at=_listed_time(row.get("lastCommentTime")),
            )
        )
    return ListingPage(videos, total=_int(meta.get("totalCount")))


def parse_snapshot_version(payload: Any) -> int | None:
    """``/api/v2/snapshot/version`` → when the index was last rebuilt (Unix s)."""
    if isinstance(payload, dict):
        return _listed_time(payload.get("last_modified"))
    return None


# --- pieces -------------------------------------------------------------------------------------


def _nvapi_data(payload: Any, what: str) -> dict:
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise BadAnswer(f"nvapi answered {what} without data")
    return payload["data"]


def _nvapi_video(video: Any, what: str) -> ListedVideo:
    if not isinstance(video, dict) or not isinstance(video.get("id"), str):
        raise BadAnswer(f"a {what} item has no video id")
    count = video.get("count")
    return ListedVideo(
        _video_id(video["id"]),
        title=_str(video.get("title")),
        posted_at=_listed_time(video.get("registeredAt")),
        comment_count=_int(count.get("comment")) if isinstance(count, dict) else None,
        last_comment_at=_listed_time(video.get("latestCommentAt")),
    )


def _video_id(text: str) -> str:
    try:
        return parse_video_id(text)
    except Exception:
        raise BadAnswer(f"a listing names {shown(text)}, which is not a video id") from None


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise BadAnswer(f"a listing answer has no list at {where}")
    return value


def _dicts(items: list) -> list[dict]:
    return [item for item in items if isinstance(item, dict)]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _listed_time(value: Any) -> int | None:
    """A listing's time (ISO 8601 naming its zone) in Unix seconds; None when absent or
    unreadable: a listing's times are for the record, never a reason to refuse it."""
    if value is None:
        return None
    try:
        return unix_seconds(value)
    except ValueError:
        return None
