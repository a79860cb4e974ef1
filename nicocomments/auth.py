"""Logging in, importing cookies, and the session file.

Only the ``user_session`` cookie is ever stored, in ``<config dir>/session.json`` with mode 0600;
never a password. Since August 2026 the site's login form sits behind a bot check, so the cookie
paths (a pasted value, a cookies.txt file, a browser profile) are first-class; the form login
(protocol.md §4.1–4.2) is kept for servers that still offer it.
"""

from __future__ import annotations

import json
import logging
import netrc
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookiejar import LoadError, MozillaCookieJar
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from nicocomments.config import NICONICO_COOKIE_DOMAIN, Endpoints
from nicocomments.errors import BadAnswer, BadInput, LoginFailed, missing_extra
from nicocomments.http import SESSION_COOKIE
from nicocomments.watchpage import parse_html

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"
SESSION_ENV_VAR = "NICO_USER_SESSION"
NETRC_MACHINE = "niconico"
LOGIN_QUERY = {"show_button_twitter": "1", "site": "niconico", "show_button_facebook": "1"}
DEVICE_NAME = "nicocomments"

OtpPrompt = Callable[[int], str | None]  # attempt number (1, 2, …) → code, or None to give up


# --- the session file ------------------------------------------------------------------------


def session_path(config_dir: Path) -> Path:
    return config_dir / SESSION_FILE


def save_session(config_dir: Path, user_session: str, *, source: str) -> Path:
    """Write the session cookie to a file only its owner can read (0600, directory 0700)."""
    config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if config_dir.stat().st_mode & 0o077:  # it existed before, open to others
        config_dir.chmod(0o700)
    path = session_path(config_dir)
    payload = {
        "user_session": user_session,
        "source": source,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # in case the file already existed with looser bits
        json.dump(payload, handle)
    os.replace(temporary, path)
    return path


def stored_session(config_dir: Path) -> str | None:
    path = session_path(config_dir)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read the session file {path}: {exc}; run `nico logout`") from None
    value = payload.get("user_session") if isinstance(payload, dict) else None
    return value or None


def delete_session(config_dir: Path) -> bool:
    try:
        session_path(config_dir).unlink()
    except FileNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class SessionSource:
    value: str
    origin: str  # where it came from, for messages: never the value itself


def resolve_session(
    config_dir: Path, environ: Mapping[str, str] | None = None
) -> SessionSource | None:
    """$NICO_USER_SESSION wins over the stored session."""
    environ = os.environ if environ is None else environ
    if environ.get(SESSION_ENV_VAR):
        return SessionSource(environ[SESSION_ENV_VAR].strip(), f"${SESSION_ENV_VAR}")
    stored = stored_session(config_dir)
    if stored:
        return SessionSource(stored, str(session_path(config_dir)))
    return None


# --- where credentials come from ----------------------------------------------------------


def netrc_credentials(path: Path | None = None) -> tuple[str, str] | None:
    """The ``niconico`` machine of ~/.netrc (or $NETRC), as yt-dlp reads it."""
    path = path or Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(NETRC_MACHINE)
    except (netrc.NetrcParseError, OSError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    if not entry or not entry[0] or not entry[2]:
        return None
    return entry[0], entry[2]


def session_from_cookies_file(path: Path) -> str:
    """The ``user_session`` cookie from a Netscape cookies.txt (browser exporters, yt-dlp)."""
    jar = _load_cookies_txt(path)
    candidates = [c for c in jar if c.name == SESSION_COOKIE]
    niconico = [c for c in candidates if c.domain.lstrip(".").endswith("nicovideo.jp")]
    chosen = (niconico or candidates)[:1]
    if not chosen:
        raise BadInput(f"{path} has no {SESSION_COOKIE} cookie for nicovideo.jp")
    cookie = chosen[0]
    if cookie.is_expired():
        expired = datetime.fromtimestamp(cookie.expires, UTC).date().isoformat()
        raise LoginFailed(
            f"the {SESSION_COOKIE} cookie in {path} expired on {expired}; "
            "export fresh cookies from a logged-in browser"
        )
    return cookie.value


def _load_cookies_txt(path: Path) -> MozillaCookieJar:
    if not path.is_file():
        raise BadInput(f"cannot read {path}: no such file")
    jar = MozillaCookieJar()
    try:
        jar.load(str(path), ignore_discard=True, ignore_expires=True)
        return jar
    except LoadError as exc:
        problem = exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    # Some exporters leave out the "# Netscape HTTP Cookie File" line the stdlib insists on.
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    if text.lstrip().startswith("# Netscape") or text.lstrip().startswith("# HTTP"):
        raise BadInput(f"{path} is not a valid cookies.txt file: {problem}")
    with tempfile.TemporaryDirectory() as scratch:  # mode 0700: the copy holds secrets
        copy = Path(scratch) / "cookies.txt"
        copy.write_text("# Netscape HTTP Cookie File\n" + text, encoding="utf-8")
        try:
            jar.load(str(copy), ignore_discard=True, ignore_expires=True)
        except LoadError as exc:
            raise BadInput(f"{path} is not a Netscape cookies.txt file: {exc}") from None
    return jar


def session_from_browser(browser: str) -> str:
    """Read ``user_session`` from an installed browser's profile (needs browser-cookie3)."""
    try:
        import browser_cookie3
    except ImportError:
        raise missing_extra("reading browser cookies", "browser-cookie3", "browser") from None
    loader = getattr(browser_cookie3, browser.lower(), None)
    if loader is None or browser.lower().startswith("_"):
        raise BadInput(f"unknown browser {browser!r}")
    try:
        jar = loader(domain_name="nicovideo.jp")
    except Exception as exc:  # browser_cookie3 raises many kinds; all mean "could not read"
        raise BadInput(f"cannot read {browser}'s cookies: {exc}") from None
    for cookie in jar:
        if cookie.name == SESSION_COOKIE and cookie.value:
            return cookie.value
    raise LoginFailed(
        f"{browser} has no Niconico session: log in at nicovideo.jp in {browser} first"
    )


# --- the form login (2022 – August 2026) ------------------------------------------------


def login_with_password(
    session: requests.Session,
    endpoints: Endpoints,
    email: str,
    password: str,
    otp: OtpPrompt,
) -> str:
    """Log in through the account form, with the one-time-code step when the account has
    two-factor auth. Returns the ``user_session`` value."""
    login_page = endpoints.url("account", "/login")
    session.get(login_page)
    response = session.post(
        endpoints.url("account", "/login/redirector"),
        params={**LOGIN_QUERY, "next_url": "/"},
        data={"mail_tel": email, "password": password},
        headers={"Referer": login_page},
        retry=False,  # never send a password twice on our own
    )
    if response.status_code == 404:
        raise LoginFailed(
            "the login form is gone (HTTP 404): since August 2026 Niconico logs in through a "
            "browser page with a bot check. Log in with a browser, then use "
            "`nico login --cookies FILE` or `nico login --user-session VALUE`"
        )
    if "cant_login" in response.url or _has_class(response.text, "notice error"):
        raise LoginFailed("wrong e-mail address or password")
    if _is_mfa_page(response):
        response = _one_time_code(session, response, otp)
    value = _session_cookie(session)
    if not value:
        raise LoginFailed(
            f"the login did not produce a session (HTTP {response.status_code} at "
            f"{urlsplit(response.url).path}); try `nico login --cookies FILE` instead"
        )
    return value


def _is_mfa_page(response: requests.Response) -> bool:
    return urlsplit(response.url).path.rstrip("/").endswith("/mfa") or "oneTimePw" in response.text


def _one_time_code(
    session: requests.Session, page: requests.Response, otp: OtpPrompt
) -> requests.Response:
    attempt = 0
    while True:
        attempt += 1
        action = _mfa_form_action(page)
        code = otp(attempt)
        if code is None:
            raise LoginFailed("wrong one-time code" if attempt > 1 else "no one-time code given")
        response = session.post(
            urljoin(page.url, action),
            data={"otp": code.strip(), "loginBtn": "Login", "device_name": DEVICE_NAME},
            retry=False,  # a one-time code must not be sent twice
        )
        if "error-code" in response.url:
            raise LoginFailed(
                "the two-factor step expired or was locked after wrong codes; "
                "run `nico login` again"
            )
        if _has_class(response.text, "formError") or _is_mfa_page(response):
            page = response
            continue
        return response


def _mfa_form_action(page: requests.Response) -> str:
    document = parse_html(page.content)
    if document is not None:
        for form in document.iter("form"):
            if form.xpath(".//input[@name='oneTimePw' or @name='otp']") or "mfa" in (
                form.get("action") or ""
            ):
                return form.get("action") or page.url
    return page.url


def _has_class(text: str, name: str) -> bool:
    return f'class="{name}' in text or f"class='{name}" in text


def _session_cookie(session: requests.Session) -> str | None:
    for cookie in session.cookies:
        if cookie.name == SESSION_COOKIE and cookie.value:
            return cookie.value
    return None


# --- checking a session ----------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    logged_in: bool
    premium: bool = False
    user_id: str | None = None


def check_session(session: requests.Session, endpoints: Endpoints) -> Viewer:
    """Ask the site who we are: ``x-niconico-authflag`` is 1 (general) or 3 (premium)."""
    response = session.get(endpoints.url("www", "/"), allow_redirects=False)
    if response.status_code >= 400 and "x-niconico-authflag" not in response.headers:
        raise BadAnswer(
            f"cannot check the session: {endpoints.www} answered HTTP {response.status_code}"
        )
    flag = response.headers.get("x-niconico-authflag", "0").strip()
    if flag not in ("1", "3"):
        return Viewer(logged_in=False)
    return Viewer(
        logged_in=True, premium=flag == "3", user_id=response.headers.get("x-niconico-id")
    )


def cookie_hosts(endpoints: Endpoints) -> set[str]:
    """Where the session cookie may go: the configured Niconico hosts and nicovideo.jp."""
    return endpoints.hosts() | {NICONICO_COOKIE_DOMAIN}
