"""account.nicovideo.jp: the password login, the two-factor step and sessions."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import requests

from nicosandbox import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_USER_ID,
    MFA_CODE,
    MFA_USER_ID,
)
from tests.sandbox.helpers import REDIRECTOR, kv, login, start_mfa


def test_login_page_and_wrong_password(sb):
    s = requests.Session()
    page = s.get(sb.account_url + "/login")
    assert page.status_code == 200 and 'name="mail_tel"' in page.text and "nicosid" in s.cookies
    r = s.post(
        sb.account_url + REDIRECTOR + "&sec=header_pc&next_url=%2F",
        data={"mail_tel": DEMO_EMAIL, "password": "nope"},
        allow_redirects=False,
    )
    assert r.status_code == 302
    assert r.headers["Location"] == sb.account_url + "/login?message=cant_login"
    assert "user_session" not in s.cookies
    followed = s.get(r.headers["Location"])
    assert '<div class="notice error">' in followed.text
    r = s.post(
        sb.account_url + REDIRECTOR,
        data={"mail_tel": "who@example.com", "password": "x"},
        allow_redirects=False,
    )
    assert r.headers["Location"].endswith("message=cant_login")


def test_login_sets_a_host_only_session_cookie(sb):
    s = requests.Session()
    r = s.post(
        sb.account_url + REDIRECTOR,
        data={"mail_tel": DEMO_EMAIL, "password": DEMO_PASSWORD},
        allow_redirects=False,
    )
    assert r.status_code == 302 and r.headers["Location"] == sb.www_url + "/"
    cookie = next(c for c in s.cookies if c.name == "user_session")
    assert re.fullmatch(r"user_session_100001_[0-9a-f]+", cookie.value)
    assert cookie.domain == "127.0.0.1" and not cookie.domain_specified and cookie.path == "/"
    assert "user_session_secure" in s.cookies
    assert "Domain" not in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    home = s.get(sb.www_url + "/")
    assert (
        home.headers["x-niconico-authflag"] == "3" and home.headers["x-niconico-id"] == DEMO_USER_ID
    )
    guest = requests.get(sb.www_url + "/")
    assert guest.headers["x-niconico-authflag"] == "0" and "x-niconico-id" not in guest.headers


def test_two_factor_login(sb):
    s, action = start_mfa(sb)
    wrong = s.post(action, data={"otp": "000000", "device_name": "pytest", "loginBtn": "ログイン"})
    assert wrong.status_code == 200 and urlsplit(wrong.url).path == "/account/mfa"
    assert '<div class="formError">' in wrong.text
    r = s.post(action, data={"otp": MFA_CODE, "device_name": "pytest"}, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == sb.www_url + "/"
    assert s.cookies["user_session"].startswith(f"user_session_{MFA_USER_ID}_")
    home = s.get(sb.www_url + "/")
    assert (
        home.headers["x-niconico-authflag"] == "1" and home.headers["x-niconico-id"] == MFA_USER_ID
    )


def test_two_factor_three_wrong_codes_expire_the_step(sb):
    s, action = start_mfa(sb)
    for _ in range(2):
        assert '<div class="formError">' in s.post(action, data={"otp": "111111"}).text
    r = s.post(action, data={"otp": "111111"}, allow_redirects=False)
    assert r.status_code == 302 and "/account/login?error-code=" in r.headers["Location"]
    r = s.post(action, data={"otp": MFA_CODE}, allow_redirects=False)
    assert "error-code=" in r.headers["Location"] and "user_session" not in s.cookies


def test_two_factor_step_expires_after_ten_minutes(sb):
    s, action = start_mfa(sb)
    sb.clock = lambda: time.time() + 601
    r = s.post(action, data={"otp": MFA_CODE}, allow_redirects=False)
    assert r.status_code == 302 and "error-code=" in r.headers["Location"]
    assert "user_session" not in s.cookies


def test_two_factor_step_belongs_to_its_cookie(sb):
    _, action = start_mfa(sb)
    stranger = requests.Session()
    r = stranger.post(action, data={"otp": MFA_CODE}, allow_redirects=False)
    assert r.status_code == 302 and "error-code=" in r.headers["Location"]
    assert stranger.get(sb.account_url + "/mfa", allow_redirects=False).status_code == 302


def test_expire_sessions(sb):
    s = login(sb)
    assert "thread_id" in kv(s.get(sb.url + "/flapi/api/getflv/sm9").text)
    sb.expire_sessions()
    assert s.get(sb.url + "/flapi/api/getflv/sm9").text == "closed=1&done=true"
    assert s.get(sb.www_url + "/").headers["x-niconico-authflag"] == "0"
