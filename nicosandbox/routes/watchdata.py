"""Watch data (protocol.md §2.2, §3.1–3.2): the JSON the site embeds, shared by www (watch
pages, the watch API) and nvapi (thread keys). Not a surface of its own.

`build` makes the 2024+ shape, as in the 2025 sample: ``comment.server.url`` and
``comment.keys.userKey`` are empty, ``threads[]`` carry ``forkLabel`` and ``videoId``, and
``nvComment`` names the emulator's ``/nvcomment`` server, a fresh thread key and the targets
(`World.nvcomment_targets`). A key-protected thread (the channel video's "community" thread)
carries a legacy threadkey in ``threads[].threadkey`` (both real samples show a string there,
the 2021 one in a guest's page), every other thread ``null``.

Refusals are `access.refusal`'s, as ``meta.errorCode`` / ``data.reasonCode``, with a
``deletedMessage`` for deleted videos.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from nicocomments.records import NUMBER_BY_FORK
from nicosandbox.state import State
from nicosandbox.world import Account, Video, World

JST = timezone(timedelta(hours=9))
LANGUAGE = "ja-jp"
DELETED_MESSAGES = {
    1: "この動画は投稿者によって削除されました。",
    2: "この動画は運営により削除されました。",
    3: "この動画は権利者からの申し立てにより削除されました。",
}


def iso_jst(unix: int) -> str:
    """``2011-07-17T16:51:43+09:00``, the form of ``postedAt`` and ``registeredAt``."""
    return datetime.fromtimestamp(unix, JST).isoformat()


def find_video(world: World, video_id: str) -> Video | None:
    """A video by its id (sm/so/nm…) or by any of its thread ids."""
    video = world.videos.get(video_id)
    if video is None and video_id.isdigit():
        video = world.video_for_thread(video_id)
    return video


def error_data(video: Video | None, reason: str | None) -> dict[str, Any]:
    """``data`` of a watch API error (yt-dlp reads ``reasonCode`` and ``publishScheduledAt``)."""
    deleted = video.deleted if video is not None else None
    return {
        "reasonCode": reason,
        "deletedMessage": DELETED_MESSAGES.get(deleted or 0),
        "publishScheduledAt": None,
    }


def custom_error(status: int, error_code: str, reason: str | None, video: Video | None) -> dict:
    """``data.response`` of an error watch page (and of ``?responseType=json``)."""
    return {
        "isCustomError": True,
        "statusCode": status,
        "errorCode": error_code,
        "reasonCode": reason,
        "deletedMessage": error_data(video, reason)["deletedMessage"],
        "communityLink": None,
        "publishScheduledAt": None,
    }


def build(state: State, video: Video, account: Account | None) -> dict[str, Any]:
    """The watch data of `video` for `account` (None: a guest)."""
    targets = state.world.nvcomment_targets(video.video_id)
    threads = _threads(state, video, targets)
    key = thread_key(state, video, account)
    return {
        "video": {
            "id": video.video_id,
            "title": video.title,
            "duration": video.duration_s,
            "registeredAt": iso_jst(video.posted_at),
        },
        "viewer": None
        if account is None
        else {
            "id": int(account.user_id),
            "nickname": account.nickname,
            "isPremium": account.is_premium,
        },
        "comment": {
            "server": {"url": ""},
            "keys": {"userKey": ""},
            "layers": _layers(targets),
            "threads": threads,
            "ng": {"ngScore": {"isDisabled": False}, "channel": [], "owner": [], "viewer": None},
            "isAttentionRequired": False,
            "nvComment": {
                "threadKey": key,
                "server": state.url("nvcomment"),
                "params": {
                    "targets": [{"id": tid, "fork": fork} for tid, fork in targets],
                    "language": LANGUAGE,
                },
            },
        },
    }


def thread_key(state: State, video: Video, account: Account | None) -> str:
    """A fresh key for every thread the video's targets name (``uid`` only when logged in)."""
    world = state.world
    thread_ids = list(dict.fromkeys(tid for tid, _ in world.nvcomment_targets(video.video_id)))
    forced = [tid for tid in thread_ids if (t := world.thread(tid, "main")) and t.force_184]
    user_id = account.user_id if account is not None else None
    return state.thread_keys.issue(thread_ids, forced, user_id, state.settings.thread_key_ttl)


def _threads(state: State, video: Video, targets: list[tuple[str, str]]) -> list[dict]:
    world = state.world
    keyed_default = video.main_thread_id if video.optional_thread_id else None
    out = []
    for tid, fork in targets:
        thread = world.thread(tid, fork)
        main = world.thread(tid, "main")
        needs_key = bool(main and main.needs_key)
        owner = fork == "owner"
        if owner:
            label = "owner"
        elif fork == "easy":
            label = "easy"
        else:
            label = main.label if main else "default"
        out.append(
            {
                "id": int(tid),
                "fork": NUMBER_BY_FORK.get(fork, fork),
                "forkLabel": fork,
                "videoId": video.video_id,
                "isActive": not owner,
                "isDefaultPostTarget": fork == "main" and tid == (keyed_default or tid),
                "isEasyCommentPostTarget": fork == "easy",
                "isLeafRequired": not owner,
                "isOwnerThread": owner,
                "isThreadkeyRequired": needs_key,
                "threadkey": (
                    state.keys.issue("threadkey", tid, state.settings.key_ttl)
                    if needs_key
                    else None
                ),
                "is184Forced": bool(main and main.force_184) and not owner,
                "hasNicoscript": owner and thread is not None and len(thread.comments) > 0,
                "label": label,
                "postkeyStatus": 0,
            }
        )
    return out


def _layers(targets: list[tuple[str, str]]) -> list[dict]:
    """Owner layer, then the default-post thread's main (+ easy), then other mains translucent
    (as in the 2021 so36605534 sample)."""
    owners = [(tid, fork) for tid, fork in targets if fork == "owner"]
    mains = [tid for tid, fork in targets if fork == "main"]
    front = mains[-1] if mains else None
    layers = [owners, [(tid, fork) for tid, fork in targets if tid == front and fork != "owner"]]
    layers += [[(tid, "main")] for tid in mains if tid != front]
    return [
        {
            "index": index,
            "isTranslucent": index >= 2,
            "threadIds": [
                {"id": int(tid), "fork": NUMBER_BY_FORK.get(fork, fork), "forkLabel": fork}
                for tid, fork in layer
            ],
        }
        for index, layer in enumerate(layers)
        if layer
    ]
