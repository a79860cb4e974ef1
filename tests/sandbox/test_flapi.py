"""flapi.nicovideo.jp: getflv, getthreadkey and getwaybackkey."""

from __future__ import annotations

import re
import time

import requests

from nicosandbox import (
    BIG_THREAD_ID,
    CHANNEL_DEFAULT_THREAD_ID,
    CHANNEL_THREAD_ID,
    CHANNEL_VIDEO_ID,
    DEMO_USER_ID,
    DOMESTIC_VIDEO_ID,
    MEMBERS_ONLY_VIDEO_ID,
    MFA_CODE,
    PREMIUM_ONLY_VIDEO_ID,
    REAL_NM_THREAD_ID,
    REAL_NM_VIDEO_ID,
)
from tests.sandbox.helpers import key, kv, login, server_response, start_mfa


def test_getflv_requires_login(sb):
    assert requests.get(sb.url + "/flapi/api/getflv/sm9").text == "closed=1&done=true"


def test_getflv_fields(sb):
    s = login(sb)
    r = s.get(sb.url + "/flapi/api/getflv/sm9")
    assert r.headers["Content-Type"].startswith("text/plain")
    assert "\n" not in r.text and "%3A%2F%2F" in r.text and "%7E1%7E" in r.text
    flv = kv(r.text)
    assert list(flv)[:6] == ["thread_id", "l", "url", "link", "ms", "ms_sub"]
    assert flv["thread_id"] == BIG_THREAD_ID and flv["l"] == "319" and flv["done"] == "true"
    assert flv["ms"] == sb.url + "/msg/10/api/" and flv["ms_sub"] == sb.url + "/msg/sub/10/api/"
    assert flv["user_id"] == DEMO_USER_ID and flv["is_premium"] == "1" and flv["nickname"]
    assert abs(int(flv["time"]) / 1000 - time.time()) < 60
    assert re.fullmatch(r"\d{10}\.~1~[A-Za-z0-9_-]{43}", flv["userkey"])
    assert "needs_key" not in flv and "deleted" not in flv and "closed" not in flv
    for variant in (
        "/flapi/api/getflv/sm9?as3=1",
        "/flapi/api/getflv?v=sm9",
        f"/flapi/api/getflv/{BIG_THREAD_ID}",
    ):
        assert kv(s.get(sb.url + variant).text)["thread_id"] == BIG_THREAD_ID
    assert (
        kv(s.get(sb.url + f"/flapi/api/getflv/{REAL_NM_VIDEO_ID}").text)["thread_id"]
        == REAL_NM_THREAD_ID
    )


def test_getflv_errors_and_so_ids(sb):
    s = login(sb)
    for bad in ("sm999999999", "nm1", "123", CHANNEL_VIDEO_ID):
        assert s.get(f"{sb.url}/flapi/api/getflv/{bad}").text == "error=invalid_thread&done=true"
    # No redirect any more: the so page embeds the watch data, which names the threads.
    watch = s.get(f"{sb.www_url}/watch/{CHANNEL_VIDEO_ID}", allow_redirects=False)
    assert watch.status_code == 200
    threads = server_response(watch)["data"]["response"]["comment"]["threads"]
    keyed = [t for t in threads if t["fork"] == 0 and t["isThreadkeyRequired"]]
    assert [str(t["id"]) for t in keyed] == [CHANNEL_THREAD_ID]
    for thread_id in (CHANNEL_THREAD_ID, CHANNEL_DEFAULT_THREAD_ID):
        flv = kv(s.get(f"{sb.url}/flapi/api/getflv/{thread_id}").text)
        assert flv["thread_id"] == CHANNEL_THREAD_ID and flv["needs_key"] == "1"
        assert flv["optional_thread_id"] == CHANNEL_DEFAULT_THREAD_ID and flv["l"] == "1420"


def test_getflv_knows_nothing_of_todays_limits(sb):
    """getflv serves the premium-only and Japan-only videos (the Flash era had no such limit in
    this emulator) and, as ever, no so id, but the thread id of one."""
    s = login(sb)
    for video_id in (PREMIUM_ONLY_VIDEO_ID, DOMESTIC_VIDEO_ID, "1250000100"):
        flv = kv(s.get(f"{sb.url}/flapi/api/getflv/{video_id}").text)
        assert flv["thread_id"] and "deleted" not in flv and flv["l"] == "95"
    assert s.get(f"{sb.url}/flapi/api/getflv/{MEMBERS_ONLY_VIDEO_ID}").text == (
        "error=invalid_thread&done=true"
    )


def test_getflv_deleted_and_private(sb):
    s = login(sb)
    for video_id, code in (
        ("sm8000001", "1"),
        ("sm8000002", "2"),
        ("sm8000003", "3"),
        ("sm8000008", "8"),
    ):
        flv = kv(s.get(f"{sb.url}/flapi/api/getflv/{video_id}").text)
        assert flv["deleted"] == code and flv["l"] == "0" and flv["done"] == "true"
        for field in (
            "thread_id",
            "url",
            "link",
            "ms",
            "ms_sub",
            "user_id",
            "is_premium",
            "nickname",
            "time",
        ):
            assert flv[field]


def test_getthreadkey(sb):
    assert requests.get(f"{sb.url}/flapi/api/getthreadkey?thread={CHANNEL_THREAD_ID}").text == ""
    s = login(sb)
    text = s.get(f"{sb.url}/flapi/api/getthreadkey?thread={CHANNEL_THREAD_ID}").text
    assert re.fullmatch(r"threadkey=\d{10}\.[A-Za-z0-9_-]{27}&force_184=1", text)
    assert s.get(f"{sb.url}/flapi/api/getthreadkey?thread={BIG_THREAD_ID}").text == ""
    assert s.get(f"{sb.url}/flapi/api/getthreadkey?thread={CHANNEL_DEFAULT_THREAD_ID}").text == ""


def test_getwaybackkey(sb):
    assert (
        requests.get(f"{sb.url}/flapi/api/getwaybackkey?thread={BIG_THREAD_ID}").text
        == "waybackkey="
    )
    demo = login(sb)
    assert re.fullmatch(
        r"waybackkey=\d{10}\.[A-Za-z0-9_-]{27}",
        demo.get(f"{sb.url}/flapi/api/getwaybackkey?thread={BIG_THREAD_ID}").text,
    )
    general, action = start_mfa(sb)
    general.post(action, data={"otp": MFA_CODE})
    assert key(general, sb, "waybackkey", BIG_THREAD_ID)
    sb.past_logs_premium_only = True
    assert key(general, sb, "waybackkey", BIG_THREAD_ID) == ""
    assert key(demo, sb, "waybackkey", BIG_THREAD_ID)
