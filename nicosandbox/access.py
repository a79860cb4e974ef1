"""Who may watch what: the refusals of watch data and nvapi (protocol.md §3.1), as
``(HTTP status, meta.errorCode, data.reasonCode)``.

The real v3 API answered FORBIDDEN with HTTP 400 and ``meta.status`` 400 (a 2024 capture in
xpadev-net/niconicomments-convert#113; yt-dlp accepts only 400 and 404 there), so FORBIDDEN is
400 here, NOT_FOUND 404. yt-dlp files ADMINISTRATOR_DELETE_VIDEO under FORBIDDEN and
RIGHT_HOLDER_DELETE_VIDEO under NOT_FOUND; no source names a reason code for a video its
poster deleted, so that is NOT_FOUND with ``reasonCode`` null:

    unknown id                 404 NOT_FOUND  null
    deleted=1 (poster)         404 NOT_FOUND  null
    deleted=2 (operator)       400 FORBIDDEN  ADMINISTRATOR_DELETE_VIDEO
    deleted=3 (rights holder)  404 NOT_FOUND  RIGHT_HOLDER_DELETE_VIDEO
    deleted=8 (private)        400 FORBIDDEN  HIDDEN_VIDEO
    channel members only       400 FORBIDDEN  CHANNEL_MEMBER_ONLY  (nobody is a member)
    premium only               400 FORBIDDEN  PREMIUM_ONLY  (unless the viewer is premium)
    Japan only                 400 FORBIDDEN  DOMESTIC_VIDEO  (every viewer is "abroad")
"""

from __future__ import annotations

from nicosandbox.world import Account, Video

FORBIDDEN_STATUS = 400
NOT_FOUND_STATUS = 404
# By getflv `deleted` and by `Video.access`.
DELETED_REFUSALS: dict[int, tuple[int, str, str | None]] = {
    1: (NOT_FOUND_STATUS, "NOT_FOUND", None),
    2: (FORBIDDEN_STATUS, "FORBIDDEN", "ADMINISTRATOR_DELETE_VIDEO"),
    3: (NOT_FOUND_STATUS, "NOT_FOUND", "RIGHT_HOLDER_DELETE_VIDEO"),
    8: (FORBIDDEN_STATUS, "FORBIDDEN", "HIDDEN_VIDEO"),
}
ACCESS_REFUSALS: dict[str, tuple[int, str, str]] = {
    "channel_member": (FORBIDDEN_STATUS, "FORBIDDEN", "CHANNEL_MEMBER_ONLY"),
    "premium": (FORBIDDEN_STATUS, "FORBIDDEN", "PREMIUM_ONLY"),
    "domestic": (FORBIDDEN_STATUS, "FORBIDDEN", "DOMESTIC_VIDEO"),
}
UNKNOWN_VIDEO = (NOT_FOUND_STATUS, "NOT_FOUND", None)


def refusal(video: Video, account: Account | None) -> tuple[int, str, str | None] | None:
    """Why this viewer may not watch this video (status, errorCode, reasonCode), or None."""
    if video.deleted:
        return DELETED_REFUSALS.get(video.deleted, DELETED_REFUSALS[8])
    if video.access == "premium" and account is not None and account.is_premium:
        return None
    if video.access:
        return ACCESS_REFUSALS[video.access]
    return None
