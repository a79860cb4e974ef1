"""Logging in (form, two-factor, cookies), the session file, and keeping secrets secret."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from nicocomments import auth
from nicocomments.config import Endpoints
from nicocomments.errors import BadInput, LoginFailed
from nicocomments.http import HttpSettings, make_session
from nicosandbox import (
    BIG_VIDEO_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_USER_ID,
    MFA_CODE,
    MFA_EMAIL,
    MFA_PASSWORD,
    MFA_USER_ID,
    SHORT_VIDEO_ID,
)
from tests.helpers import query


def _session_file(config):
    return config / "session.json"


def _login_value(sandbox) -> str:
    """A fresh user_session from the emulator, obtained through the library."""
    endpoints = Endpoints.from_env(sandbox.env())
    session = make_session(HttpSettings(interval=0))
    return auth.login_with_password(session, endpoints, DEMO_EMAIL, DEMO_PASSWORD, lambda n: None)


def test_password_login_stores_only_the_cookie_with_mode_0600(sandbox, nico, _isolated_config):
    result = nico("login", "--email", DEMO_EMAIL, "--password-stdin", input=DEMO_PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    assert f"user {DEMO_USER_ID} (premium)" in result.stdout
    path = _session_file(_isolated_config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    stored = json.loads(path.read_text())
    assert stored["user_session"].startswith(f"user_session_{DEMO_USER_ID}_")
    assert DEMO_PASSWORD not in path.read_text()
    assert set(stored) == {"user_session", "source", "saved_at"}


def test_credentials_from_the_environment(sandbox, nico, monkeypatch):
    monkeypatch.setenv("NICO_EMAIL", DEMO_EMAIL)
    monkeypatch.setenv("NICO_PASSWORD", DEMO_PASSWORD)
    assert nico("login").exit_code == 0


def test_credentials_from_netrc(sandbox, nico, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine niconico login {DEMO_EMAIL} password {DEMO_PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    result = nico("login")
    assert result.exit_code == 0, result.stderr


def test_wrong_password(sandbox, nico, _isolated_config):
    result = nico("login", "--email", DEMO_EMAIL, "--password-stdin", input="nope\n")
    assert result.exit_code == 3
    assert result.stderr == "Error: wrong e-mail address or password\n"
    assert not _session_file(_isolated_config).exists()


def test_two_factor_login_with_otp(sandbox, nico):
    result = nico(
        "login",
        "--email",
        MFA_EMAIL,
        "--password-stdin",
        "--otp",
        MFA_CODE,
        input=MFA_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.stderr
    assert f"user {MFA_USER_ID} (general member)" in result.stdout


def test_two_factor_login_with_a_wrong_code(sandbox, nico, _isolated_config):
    result = nico(
        "login",
        "--email",
        MFA_EMAIL,
        "--password-stdin",
        "--otp",
        "000000",
        input=MFA_PASSWORD + "\n",
    )
    assert result.exit_code == 3
    assert result.stderr == "Error: wrong one-time code\n"
    assert not _session_file(_isolated_config).exists()


def test_two_factor_prompt_gets_three_tries(sandbox):
    endpoints = Endpoints.from_env(sandbox.env())
    codes = iter(["111111", "222222", MFA_CODE])
    asked = []

    def prompt(attempt):
        asked.append(attempt)
        return next(codes)

    session = make_session(HttpSettings(interval=0))
    value = auth.login_with_password(session, endpoints, MFA_EMAIL, MFA_PASSWORD, prompt)
    assert value.startswith(f"user_session_{MFA_USER_ID}_")
    assert asked == [1, 2, 3]


def test_two_factor_step_that_expired(sandbox):
    endpoints = Endpoints.from_env(sandbox.env())
    real_clock = sandbox.clock

    def late_code(attempt):
        sandbox.clock = lambda: real_clock() + 3600  # an hour passes at the prompt
        return MFA_CODE

    try:
        with pytest.raises(LoginFailed, match="expired"):
            auth.login_with_password(
                make_session(HttpSettings(interval=0)),
                endpoints,
                MFA_EMAIL,
                MFA_PASSWORD,
                late_code,
            )
    finally:
        sandbox.clock = real_clock


def test_a_login_form_that_is_gone(sandbox, nico, monkeypatch):
    # Since August 2026 the real redirector answers 404: say what to do instead.
    monkeypatch.setenv("NICO_ACCOUNT_URL", sandbox.url + "/nowhere")
    result = nico("login", "--email", DEMO_EMAIL, "--password-stdin", input=DEMO_PASSWORD + "\n")
    assert result.exit_code == 3
    assert "--cookies" in result.stderr and "404" in result.stderr


def test_no_credentials_and_no_terminal(sandbox, nico):
    result = nico("login")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: no e-mail address")


def test_user_session_is_checked_then_stored(sandbox, nico, _isolated_config):
    value = _login_value(sandbox)
    result = nico("login", "--user-session", value)
    assert result.exit_code == 0, result.stderr
    assert json.loads(_session_file(_isolated_config).read_text())["user_session"] == value
    assert value not in result.stdout + result.stderr


def test_a_dead_user_session_is_refused(sandbox, nico, _isolated_config):
    result = nico("login", "--user-session", "user_session_1_deadbeef")
    assert result.exit_code == 3
    assert "does not accept" in result.stderr
    assert "deadbeef" not in result.stderr
    assert not _session_file(_isolated_config).exists()
    assert nico("login", "--user-session", "user_session_1_deadbeef", "--no-check").exit_code == 0


COOKIES_TXT = """# Netscape HTTP Cookie File
# This file was generated by a browser exporter
.nicovideo.jp\tTRUE\t/\tFALSE\t{expires}\tnicosid\t1700000000.123
#HttpOnly_.nicovideo.jp\tTRUE\t/\tTRUE\t{expires}\tuser_session\t{value}
.example.com\tTRUE\t/\tFALSE\t{expires}\tuser_session\tnot-this-one
"""


def test_cookies_txt_as_browsers_and_yt_dlp_write_it(sandbox, nico, tmp_path, _isolated_config):
    value = _login_value(sandbox)
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(COOKIES_TXT.format(expires=int(time.time()) + 86400, value=value))
    result = nico("login", "--cookies", cookies)
    assert result.exit_code == 0, result.stderr
    assert json.loads(_session_file(_isolated_config).read_text())["user_session"] == value


def test_cookies_txt_without_the_header_line(tmp_path):
    cookies = tmp_path / "cookies.txt"
    body = COOKIES_TXT.format(expires=int(time.time()) + 86400, value="v123")
    cookies.write_text("\n".join(line for line in body.splitlines() if not line.startswith("# ")))
    assert auth.session_from_cookies_file(cookies) == "v123"


def test_cookies_txt_problems(tmp_path):
    expired = tmp_path / "expired.txt"
    expired.write_text(COOKIES_TXT.format(expires=1_600_000_000, value="old"))
    with pytest.raises(LoginFailed, match="expired on 2020-09-13"):
        auth.session_from_cookies_file(expired)
    missing = tmp_path / "none.txt"
    missing.write_text(
        "# Netscape HTTP Cookie File\n.nicovideo.jp\tTRUE\t/\tFALSE\t0\tnicosid\tx\n"
    )
    with pytest.raises(BadInput, match="no user_session"):
        auth.session_from_cookies_file(missing)
    with pytest.raises(BadInput, match="cannot read"):
        auth.session_from_cookies_file(tmp_path / "absent.txt")


def test_browser_import_needs_the_optional_package(nico, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_browser_cookie3(name, *args, **kwargs):
        if name == "browser_cookie3":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_browser_cookie3)
    result = nico("login", "--browser", "firefox")
    assert result.exit_code == 2
    assert "nicocomments[browser]" in result.stderr


def test_whoami_and_logout(sandbox, nico, _isolated_config):
    result = nico("whoami")
    assert result.exit_code == 3 and "not logged in" in result.stderr
    assert (
        nico(
            "login", "--email", DEMO_EMAIL, "--password-stdin", input=DEMO_PASSWORD + "\n"
        ).exit_code
        == 0
    )
    result = nico("whoami")
    assert result.exit_code == 0
    assert f"user {DEMO_USER_ID} (premium)" in result.stdout
    sandbox.expire_sessions()
    result = nico("whoami")
    assert result.exit_code == 3 and "nico login" in result.stderr
    assert nico("logout").exit_code == 0
    assert not _session_file(_isolated_config).exists()
    assert "No stored session" in nico("logout").stdout


def test_the_environment_session_wins(sandbox, nico, monkeypatch):
    monkeypatch.setenv("NICO_USER_SESSION", _login_value(sandbox))
    result = nico("whoami")
    assert result.exit_code == 0
    assert "$NICO_USER_SESSION" in result.stdout


def test_secrets_never_reach_logs_errors_or_the_database(sandbox, nico, tmp_path, _isolated_config):
    result = nico(
        "login", "--email", DEMO_EMAIL, "--password-stdin", "-vv", input=DEMO_PASSWORD + "\n"
    )
    assert result.exit_code == 0
    cookie = json.loads(_session_file(_isolated_config).read_text())["user_session"]
    db = tmp_path / "n.db"
    runs = [
        nico(
            "fetch",
            BIG_VIDEO_ID,
            "--all-history",
            "--db",
            db,
            "--interval",
            "0",
            "-vv",
            "--protocol",
            "legacy",
        ),
        nico("fetch", SHORT_VIDEO_ID, "--db", db, "--interval", "0", "-vv", "--protocol", "legacy"),
    ]
    sandbox.expire_sessions()
    runs.append(
        nico("fetch", SHORT_VIDEO_ID, "--db", db, "--interval", "0", "-vv", "--protocol", "legacy")
    )
    output = result.stdout + result.stderr + "".join(r.stdout + r.stderr for r in runs)
    assert "DEBUG" in output or "urllib3" in output  # -vv really logged
    for secret in (cookie, DEMO_PASSWORD, "waybackkey=", "userkey=", "threadkey="):
        assert secret not in output
    dump = "\n".join(
        str(row)
        for table in ("videos", "threads", "comments", "fetch_runs", "skipped_seconds")
        for row in query(db, f"SELECT * FROM {table}")
    )
    assert cookie not in dump and DEMO_PASSWORD not in dump
    assert "user_session" not in dump


def test_session_file_written_over_keeps_0600(tmp_path):
    config = tmp_path / "cfg"
    config.mkdir(mode=0o755)
    path = config / "session.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    auth.save_session(config, "v1", source="test")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.stored_session(config) == "v1"


def test_login_makes_an_existing_config_folder_private(nico, _isolated_config):
    os.chmod(_isolated_config, 0o755)  # made before, by hand or another tool
    result = nico("login", "--user-session", "user_session_1_deadbeef", "--no-check")
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(_isolated_config.stat().st_mode) == 0o700
    assert stat.S_IMODE((_isolated_config / "session.json").stat().st_mode) == 0o600


def test_login_from_a_browser_profile(sandbox, nico, monkeypatch, _isolated_config):
    import http.cookiejar
    import sys
    import types

    value = _login_value(sandbox)

    def firefox(domain_name=""):
        jar = http.cookiejar.CookieJar()
        for name, cookie_value in (("nicosid", "1"), ("user_session", value)):
            jar.set_cookie(
                http.cookiejar.Cookie(
                    0,
                    name,
                    cookie_value,
                    None,
                    False,
                    ".nicovideo.jp",
                    True,
                    True,
                    "/",
                    True,
                    True,
                    None,
                    False,
                    None,
                    None,
                    {},
                )
            )
        return jar

    def chrome(domain_name=""):
        return http.cookiejar.CookieJar()  # logged out in this browser

    fake = types.SimpleNamespace(firefox=firefox, chrome=chrome)
    monkeypatch.setitem(sys.modules, "browser_cookie3", fake)
    result = nico("login", "--browser", "firefox")
    assert result.exit_code == 0, result.stderr
    assert json.loads(_session_file(_isolated_config).read_text())["user_session"] == value
    result = nico("login", "--browser", "chrome")
    assert result.exit_code == 3 and "has no Niconico session" in result.stderr
    result = nico("login", "--browser", "netscape4")
    assert result.exit_code == 2 and "unknown browser" in result.stderr
