"""www.nicovideo.jp: pages, the watch data API and watch pages (protocol.md §3.1–3.2)."""

from __future__ import annotations

import pytest
import requests

from nicosandbox import (
    BIG_THREAD_ID,
    BIG_VIDEO_ID,
    CHANNEL_DEFAULT_THREAD_ID,
    CHANNEL_THREAD_ID,
    CHANNEL_VIDEO_ID,
    DELETED_VIDEO_ID,
    DEMO_USER_ID,
    DOMESTIC_VIDEO_ID,
    MEMBERS_ONLY_VIDEO_ID,
    MFA_CODE,
    OPERATOR_DELETED_VIDEO_ID,
    PREMIUM_ONLY_VIDEO_ID,
    PRIVATE_VIDEO_ID,
    REAL_NM_VIDEO_ID,
    RIGHTS_DELETED_VIDEO_ID,
    SHORT_THREAD_ID,
    SHORT_VIDEO_ID,
)
from tests.sandbox.helpers import (
    FRONTEND,
    TRACK,
    jwt,
    login,
    parse,
    post_packet,
    server_response,
    start_mfa,
    targets_of,
    thread_xml,
    threads_of,
    watch_api,
    watch_data,
)


def test_www_pages_and_404s(sb):
    assert requests.get(sb.www_url + "/watch/sm9").status_code == 200
    assert requests.get(sb.www_url + "/watch/sm123456789").status_code == 404
    assert requests.get(sb.www_url + "/watch/so1").status_code == 404
    for path in (
        "/",
        "/nothing",
        "/flapi/api/nothing",
        "/nvapi/v1/nothing",
        "/nvcomment/v1/threads",  # GET: only POST is served
        "/msg/10/api.json/",
    ):
        assert requests.get(sb.url + path).status_code == 404
    # nvapi's thread-key endpoint exists now: without its parameters it is a 400.
    assert requests.get(sb.url + "/nvapi/v1/comment/keys/thread").status_code == 400


THREAD_FIELDS = [
    "id",
    "fork",
    "forkLabel",
    "videoId",
    "isActive",
    "isDefaultPostTarget",
    "isEasyCommentPostTarget",
    "isLeafRequired",
    "isOwnerThread",
    "isThreadkeyRequired",
    "threadkey",
    "is184Forced",
    "hasNicoscript",
    "label",
    "postkeyStatus",
]


def test_watch_data_logged_in_and_guest(sb, world):
    s = login(sb)
    data = watch_data(s, sb, BIG_VIDEO_ID)
    assert data["video"] == {
        "id": "sm9",
        "title": world.videos["sm9"].title,
        "duration": 319,
        "registeredAt": "2007-03-06T00:33:00+09:00",
    }
    assert data["viewer"] == {
        "id": int(DEMO_USER_ID),
        "nickname": "デモユーザー",
        "isPremium": True,
    }
    comment = data["comment"]
    assert comment["server"] == {"url": ""} and comment["keys"] == {"userKey": ""}
    nv = comment["nvComment"]
    assert nv["server"] == sb.nvcomment_url and nv["params"]["language"] == "ja-jp"
    assert targets_of(data) == [
        (BIG_THREAD_ID, "owner"),
        (BIG_THREAD_ID, "main"),
        (BIG_THREAD_ID, "easy"),
    ]
    assert all(list(t) == THREAD_FIELDS for t in comment["threads"])
    assert [(t["id"], t["fork"], t["forkLabel"], t["label"]) for t in comment["threads"]] == [
        (int(BIG_THREAD_ID), 1, "owner", "owner"),
        (int(BIG_THREAD_ID), 0, "main", "default"),
        (int(BIG_THREAD_ID), 2, "easy", "easy"),
    ]
    main = comment["threads"][1]
    assert main["isDefaultPostTarget"] and main["isLeafRequired"] and main["threadkey"] is None
    assert comment["threads"][0]["isOwnerThread"] and comment["threads"][0]["hasNicoscript"]
    assert [[(i["id"], i["fork"]) for i in layer["threadIds"]] for layer in comment["layers"]] == [
        [(int(BIG_THREAD_ID), 1)],
        [(int(BIG_THREAD_ID), 0), (int(BIG_THREAD_ID), 2)],
    ]
    assert jwt(nv["threadKey"])[1]["uid"] == DEMO_USER_ID

    guest = watch_data(requests, sb, BIG_VIDEO_ID, guest=True)
    assert (
        guest["viewer"] is None and "uid" not in jwt(guest["comment"]["nvComment"]["threadKey"])[1]
    )
    assert targets_of(guest) == targets_of(data)
    # v3_guest is the guest flavour even with a session; a short video has no easy target
    assert watch_data(s, sb, BIG_VIDEO_ID, guest=True)["viewer"] is None
    assert targets_of(watch_data(s, sb, SHORT_VIDEO_ID)) == [
        (SHORT_THREAD_ID, "owner"),
        (SHORT_THREAD_ID, "main"),
    ]


def test_watch_data_by_thread_id_and_the_channel_video(sb):
    s = login(sb)
    assert watch_data(s, sb, BIG_THREAD_ID)["video"]["id"] == "sm9"
    for video_id in (CHANNEL_VIDEO_ID, CHANNEL_THREAD_ID, CHANNEL_DEFAULT_THREAD_ID):
        data = watch_data(s, sb, video_id)
        assert data["video"]["id"] == CHANNEL_VIDEO_ID
        assert targets_of(data) == [
            (CHANNEL_DEFAULT_THREAD_ID, "owner"),
            (CHANNEL_DEFAULT_THREAD_ID, "main"),
            (CHANNEL_THREAD_ID, "main"),
        ]
    threads = {(str(t["id"]), t["fork"]): t for t in data["comment"]["threads"]}
    community = threads[(CHANNEL_THREAD_ID, 0)]
    assert community["label"] == "community" and community["isThreadkeyRequired"]
    assert community["is184Forced"] and community["isDefaultPostTarget"]
    default = threads[(CHANNEL_DEFAULT_THREAD_ID, 0)]
    assert default["label"] == "default" and not default["isDefaultPostTarget"]
    assert not default["isThreadkeyRequired"] and default["threadkey"] is None
    _, claims = jwt(data["comment"]["nvComment"]["threadKey"])
    assert claims["tids"] == [CHANNEL_DEFAULT_THREAD_ID, CHANNEL_THREAD_ID]
    assert claims["f184s"] == [CHANNEL_THREAD_ID]
    # threads[].threadkey is a legacy threadkey the message server takes (protocol.md §2.3)
    element = thread_xml(CHANNEL_THREAD_ID, threadkey=community["threadkey"], force_184="1")
    assert threads_of(parse(post_packet(s, sb, element)))[0]["resultcode"] == "0"


def test_watch_api_needs_a_live_session_and_its_parameters(sb):
    r = watch_api(requests, sb, BIG_VIDEO_ID)
    assert r.status_code == 401
    assert r.json() == {
        "meta": {"status": 401, "errorCode": "UNAUTHORIZED"},
        "data": {"reasonCode": None, "deletedMessage": None, "publishScheduledAt": None},
    }
    s = login(sb)
    assert watch_api(s, sb, BIG_VIDEO_ID).status_code == 200
    sb.expire_sessions()
    assert watch_api(s, sb, BIG_VIDEO_ID).json()["meta"]["errorCode"] == "UNAUTHORIZED"
    assert watch_api(s, sb, BIG_VIDEO_ID, guest=True).status_code == 200
    for kwargs in (
        {"params": {}},
        {"params": {"actionTrackId": ""}},
        {"headers": {}},
        {"headers": {"X-Frontend-Id": "6"}},
        {"headers": {"X-Frontend-Version": "0"}},
        {"headers": {"X-Frontend-Id": "pc", "X-Frontend-Version": "0"}},
    ):
        r = watch_api(requests, sb, BIG_VIDEO_ID, guest=True, **kwargs)
        assert r.status_code == 400 and r.json()["meta"]["errorCode"] == "INVALID_PARAMETER"
    old_style = {**TRACK, "_frontendId": "6", "_frontendVersion": "0"}  # yt-dlp 2022
    assert watch_api(requests, sb, "sm9", guest=True, headers={}, params=old_style).ok


REFUSALS = [
    # video, who asks, HTTP status, errorCode, reasonCode
    ("sm7777777", None, 404, "NOT_FOUND", None),
    ("so99999999", None, 404, "NOT_FOUND", None),
    (DELETED_VIDEO_ID, "demo", 404, "NOT_FOUND", None),
    (OPERATOR_DELETED_VIDEO_ID, "demo", 400, "FORBIDDEN", "ADMINISTRATOR_DELETE_VIDEO"),
    (RIGHTS_DELETED_VIDEO_ID, "demo", 404, "NOT_FOUND", "RIGHT_HOLDER_DELETE_VIDEO"),
    (PRIVATE_VIDEO_ID, "demo", 400, "FORBIDDEN", "HIDDEN_VIDEO"),
    (MEMBERS_ONLY_VIDEO_ID, "demo", 400, "FORBIDDEN", "CHANNEL_MEMBER_ONLY"),
    (PREMIUM_ONLY_VIDEO_ID, None, 400, "FORBIDDEN", "PREMIUM_ONLY"),
    (PREMIUM_ONLY_VIDEO_ID, "mfa", 400, "FORBIDDEN", "PREMIUM_ONLY"),
    (PREMIUM_ONLY_VIDEO_ID, "demo", 200, None, None),
    (DOMESTIC_VIDEO_ID, "demo", 400, "FORBIDDEN", "DOMESTIC_VIDEO"),
]


def _viewer(sb, who):
    if who is None:
        return requests.Session()
    if who == "demo":
        return login(sb)
    session, action = start_mfa(sb)
    session.post(action, data={"otp": MFA_CODE})
    return session


@pytest.mark.parametrize(("video_id", "who", "status", "error_code", "reason"), REFUSALS)
def test_watch_data_refusals(sb, video_id, who, status, error_code, reason):
    session = _viewer(sb, who)
    r = watch_api(session, sb, video_id, guest=who is None)
    assert r.status_code == status and r.headers["Content-Type"].startswith("application/json")
    payload = r.json()
    if status == 200:
        assert payload["data"]["video"]["id"] == video_id
    else:
        assert payload["meta"] == {"status": status, "errorCode": error_code}
        assert payload["data"]["reasonCode"] == reason
        assert (payload["data"]["deletedMessage"] is not None) == (
            video_id in (DELETED_VIDEO_ID, OPERATOR_DELETED_VIDEO_ID, RIGHTS_DELETED_VIDEO_ID)
        )
    # the watch page and its JSON form carry the same verdict, with the same HTTP status
    page = session.get(f"{sb.www_url}/watch/{video_id}")
    as_json = session.get(f"{sb.www_url}/watch/{video_id}", params={"responseType": "json"})
    assert page.status_code == as_json.status_code == status
    for embedded in (server_response(page), as_json.json()):
        assert embedded["meta"]["status"] == status
        response = embedded["data"]["response"]
        if status == 200:
            assert response["video"]["id"] == video_id and "isCustomError" not in response
        else:
            assert response["isCustomError"] is True
            assert (response["statusCode"], response["errorCode"], response["reasonCode"]) == (
                status,
                error_code,
                reason,
            )
    # nvapi refuses a thread key for what watch data refuses
    keys = session.get(
        f"{sb.url}/nvapi/v1/comment/keys/thread", params={"videoId": video_id}, headers=FRONTEND
    )
    assert keys.status_code == status
    assert keys.json()["meta"].get("errorCode") == error_code


def test_maintenance(sb):
    sb.maintenance = True
    s = login(sb)
    for r in (
        watch_api(s, sb, BIG_VIDEO_ID),
        watch_api(s, sb, BIG_VIDEO_ID, guest=True),
        s.get(f"{sb.www_url}/watch/sm9", params={"responseType": "json"}),
    ):
        assert r.status_code == 503 and r.headers["Content-Type"].startswith("application/json")
        meta = r.json()["meta"]
        assert meta["status"] == 503 and "MAINTENANCE" in (meta.get("errorCode"), meta.get("code"))
    page = s.get(f"{sb.www_url}/watch/sm9")
    assert page.status_code == 503
    assert server_response(page)["data"]["response"]["errorCode"] == "MAINTENANCE"
    sb.maintenance = False
    assert watch_api(s, sb, BIG_VIDEO_ID).status_code == 200


def test_watch_page_embeds_the_watch_data(sb):
    s = login(sb)
    for video_id in ("sm9", BIG_THREAD_ID, CHANNEL_VIDEO_ID, REAL_NM_VIDEO_ID, "nm14999484"):
        page = s.get(f"{sb.www_url}/watch/{video_id}")
        assert page.status_code == 200
        embedded = server_response(page)
        assert embedded["meta"] == {"status": 200}
        response = embedded["data"]["response"]
        assert response["viewer"]["id"] == int(DEMO_USER_ID)
        assert jwt(response["comment"]["nvComment"]["threadKey"])[1]["uid"] == DEMO_USER_ID
        as_json = s.get(f"{sb.www_url}/watch/{video_id}", params={"responseType": "json"})
        assert as_json.headers["Content-Type"].startswith("application/json")
        other = as_json.json()["data"]["response"]
        for doc in (response, other):  # a fresh key (and threadkey) each time
            doc["comment"]["nvComment"].pop("threadKey")
            for thread in doc["comment"]["threads"]:
                thread.pop("threadkey")
        assert other == response
    guest_page = requests.get(f"{sb.www_url}/watch/sm9")
    response = server_response(guest_page)["data"]["response"]
    assert response["viewer"] is None
    assert "uid" not in jwt(response["comment"]["nvComment"]["threadKey"])[1]
    sb.expire_sessions()  # an expired cookie reads as a guest on pages
    assert server_response(s.get(f"{sb.www_url}/watch/sm9"))["data"]["response"]["viewer"] is None


def test_fallback_knobs(sb):
    sb.watch_api_enabled = False
    for guest in (True, False):
        r = watch_api(requests, sb, BIG_VIDEO_ID, guest=guest)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")
    assert server_response(requests.get(f"{sb.www_url}/watch/sm9"))["meta"]["status"] == 200
    sb.watch_page_meta = False
    page = requests.get(f"{sb.www_url}/watch/sm9")
    assert page.status_code == 200 and b"server-response" not in page.content
    as_json = requests.get(f"{sb.www_url}/watch/sm9", params={"responseType": "json"})
    assert as_json.json()["data"]["response"]["video"]["id"] == "sm9"
    sb.watch_api_enabled = sb.watch_page_meta = True
    assert watch_api(requests, sb, BIG_VIDEO_ID, guest=True).status_code == 200
