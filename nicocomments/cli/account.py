"""`nico login`, `nico logout`, `nico whoami`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from nicocomments import auth
from nicocomments.cli.common import err, guarded, network, out
from nicocomments.config import config_dir
from nicocomments.errors import BadInput, LoginFailed, LoginRequired


@guarded
def login(
    *,
    email: Annotated[
        str | None,
        typer.Option("--email", envvar="NICO_EMAIL", help="Account e-mail. Env: NICO_EMAIL."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from stdin instead of prompting."),
    ] = False,
    otp: Annotated[
        str | None,
        typer.Option("--otp", metavar="CODE", help="The one-time code, for two-factor accounts."),
    ] = None,
    user_session: Annotated[
        str | None,
        typer.Option(
            "--user-session",
            metavar="VALUE",
            help="Use this user_session cookie value (copied from a logged-in browser).",
            rich_help_panel="Cookie login",
        ),
    ] = None,
    cookies: Annotated[
        Path | None,
        typer.Option(
            "--cookies",
            metavar="FILE",
            help="Take user_session from a Netscape cookies.txt (browser exporters, yt-dlp).",
            rich_help_panel="Cookie login",
        ),
    ] = None,
    browser: Annotated[
        str | None,
        typer.Option(
            "--browser",
            metavar="NAME",
            help="Take user_session from a browser profile: firefox, chrome, chromium, edge, … "
            "(needs the browser extra: pip install 'nicocomments[browser]', or '.[browser]' in a "
            "checkout).",
            rich_help_panel="Cookie login",
        ),
    ] = None,
    no_check: Annotated[
        bool,
        typer.Option(
            "--no-check",
            help="Store a cookie without asking the site whether it works.",
            rich_help_panel="Cookie login",
        ),
    ] = False,
) -> None:
    """Log in to Niconico and store the session cookie (never the password).

    Niconico's login page sits behind a bot check since August 2026, so the reliable way is
    to log in with a browser and hand nico the cookie: **--cookies FILE**, **--browser NAME**
    or **--user-session VALUE**. Without those, nico tries the account form with e-mail and
    password (from --email/--password-stdin, NICO_EMAIL/NICO_PASSWORD, ~/.netrc machine
    "niconico", or a prompt) and the one-time code of two-factor accounts.

    The cookie is stored in $NICO_CONFIG_DIR/session.json (default
    ~/.config/nicocomments), readable only by you.

    **Examples**

        nico login --cookies ~/Downloads/cookies.txt
        nico login --browser firefox
        nico login --email me@example.com
    """
    cookie_sources = [x for x in (user_session, cookies, browser) if x is not None]
    if len(cookie_sources) > 1:
        raise BadInput("use only one of --user-session, --cookies and --browser")
    directory = config_dir()
    if cookie_sources:
        if user_session is not None:
            value, source = user_session.strip(), "--user-session"
        elif cookies is not None:
            value, source = auth.session_from_cookies_file(cookies), f"cookies file {cookies}"
        else:
            value, source = auth.session_from_browser(browser or ""), f"browser {browser}"
        if not value:
            raise BadInput("the user_session value is empty")
        if not no_check:
            _require_logged_in(value, f"the user_session from {source}")
        path = auth.save_session(directory, value, source=source.split(" ")[0].lstrip("-"))
        out.print(f"Session from {source} saved to {path}.")
        return
    address, secret = _credentials(email, password_stdin)
    net = network(interval=0.0, user_session="")
    prompt_for_code = sys.stdin.isatty() and otp is None

    def one_time_code(attempt: int) -> str | None:
        if otp is not None:
            return otp if attempt == 1 else None
        if not prompt_for_code or attempt > 3:
            return None
        if attempt > 1:
            err.print("That code was not accepted.")
        return typer.prompt("One-time code (from your authenticator app, e-mail or SMS)")

    value = auth.login_with_password(net.session, net.endpoints, address, secret, one_time_code)
    viewer = auth.check_session(net.session, net.endpoints)
    path = auth.save_session(directory, value, source="password")
    out.print(f"Logged in{_who(viewer)}. Session saved to {path}.")


def _credentials(email: str | None, password_stdin: bool) -> tuple[str, str]:
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadInput("--password-stdin was given but stdin held no password")
    elif os.environ.get("NICO_PASSWORD"):
        password = os.environ["NICO_PASSWORD"]
    if email is None or password is None:
        from_netrc = auth.netrc_credentials()
        if from_netrc is not None and (email is None or email == from_netrc[0]):
            email = email or from_netrc[0]
            password = password or from_netrc[1]
    if email is None:
        if not sys.stdin.isatty():
            raise BadInput("no e-mail address: use --email, NICO_EMAIL or ~/.netrc")
        email = typer.prompt("E-mail or phone number")
    if password is None:
        if not sys.stdin.isatty():
            raise BadInput("no password: use --password-stdin, NICO_PASSWORD or ~/.netrc")
        password = typer.prompt("Password", hide_input=True)
    return email.strip(), password


def _require_logged_in(value: str, what: str) -> auth.Viewer:
    net = network(interval=0.0, user_session=value)
    viewer = auth.check_session(net.session, net.endpoints)
    if not viewer.logged_in:
        raise LoginFailed(
            f"Niconico does not accept {what}: it may have expired "
            "(use --no-check to store it anyway)"
        )
    return viewer


def _who(viewer: auth.Viewer) -> str:
    if not viewer.logged_in:
        return ""
    who = f" as user {viewer.user_id}" if viewer.user_id else ""
    return who + (" (premium)" if viewer.premium else " (general member)")


@guarded
def logout() -> None:
    """Forget the stored session (delete session.json)."""
    path = auth.session_path(config_dir())
    if auth.delete_session(config_dir()):
        out.print(f"Logged out: removed {path}.")
    else:
        out.print("No stored session to remove.")


@guarded
def whoami() -> None:
    """Check whether the session works, and whether the account is premium.

    Exits with 3 when there is no working session.
    """
    source = auth.resolve_session(config_dir())
    if source is None:
        raise LoginRequired("not logged in: no session stored (run `nico login`)")
    net = network(interval=0.0, user_session=source.value)
    viewer = auth.check_session(net.session, net.endpoints)
    if not viewer.logged_in:
        raise LoginRequired(
            f"the session from {source.origin} is not logged in (expired?): run `nico login` again"
        )
    out.print(f"Logged in{_who(viewer)}; session from {source.origin}.")
