"""nvapi.nicovideo.jp and the thread keys it hands out (protocol.md §3.6)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import requests

from nicosandbox import (
    BIG_THREAD_ID,
    BIG_VIDEO_ID,
    CHANNEL_THREAD_ID,
    CHANNEL_VIDEO_ID,
    DEMO_USER_ID,
)
from tests.sandbox.helpers import FRONTEND, NOW, guest_key, jwt, login, v1_ok, watch_data


def test_thread_key_is_an_hs512_jwt(sb):
    moment = 1_800_000_000.25
    sb.clock = lambda: moment
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    head, body, signature = key.split(".")
    assert "=" not in key and re.fullmatch(r"[A-Za-z0-9_-]+", head + body + signature)
    header, claims = jwt(key)
    assert header == {"typ": "JWT", "alg": "HS512"}
    assert base64.urlsafe_b64decode(head + "==") == b'{"typ":"JWT","alg":"HS512"}'
    assert list(claims) == ["jti", "exp", "typ", "tids", "f184s", "uid"]
    assert re.fullmatch(r"[0-9a-f]{13}", claims["jti"])
    assert int(claims["jti"][:8], 16) == 1_800_000_000  # PHP uniqid of the issue time
    assert claims["exp"] == 1_800_000_000 + 204 and claims["typ"] == "Thread-Key"
    assert claims["tids"] == [BIG_THREAD_ID] and claims["f184s"] == [] and claims["uid"] == "100001"
    mac = hmac.new(sb.thread_keys.secret, f"{head}.{body}".encode(), hashlib.sha512).digest()
    assert base64.urlsafe_b64decode(signature + "==") == mac and len(mac) == 64
    sb.thread_key_ttl = 600
    assert jwt(guest_key(sb))[1]["exp"] == 1_800_000_000 + 600


def test_nvapi_thread_key(sb):
    url = f"{sb.url}/nvapi/v1/comment/keys/thread"
    r = requests.get(url, params={"videoId": "sm9"}, headers=FRONTEND)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert list(r.json()) == ["meta", "data"] and r.json()["meta"] == {"status": 200}
    guest = r.json()["data"]["threadKey"]
    assert "uid" not in jwt(guest)[1] and jwt(guest)[1]["tids"] == [BIG_THREAD_ID]
    s = login(sb)
    for video_id in ("sm9", BIG_THREAD_ID):
        key = s.get(url, params={"videoId": video_id}, headers=FRONTEND).json()["data"]["threadKey"]
        assert jwt(key)[1]["uid"] == DEMO_USER_ID
    channel = s.get(url, params={"videoId": CHANNEL_VIDEO_ID}, headers=FRONTEND).json()
    assert jwt(channel["data"]["threadKey"])[1]["f184s"] == [CHANNEL_THREAD_ID]
    assert v1_ok(sb, key, [(BIG_THREAD_ID, "main")], {"when": NOW})[0]["comments"]
    r = s.get(url, params={"videoId": "sm7777777"}, headers=FRONTEND)
    assert (r.status_code, r.json()["meta"]["errorCode"]) == (404, "NOT_FOUND")
    for params, headers in (({"videoId": "sm9"}, {}), ({}, FRONTEND)):
        r = s.get(url, params=params, headers=headers)
        assert (r.status_code, r.json()["meta"]["errorCode"]) == (400, "INVALID_PARAMETER")
    sb.expire_sessions()
    r = s.get(url, params={"videoId": "sm9"}, headers=FRONTEND)
    assert (r.status_code, r.json()["meta"]["errorCode"]) == (401, "UNAUTHORIZED")
