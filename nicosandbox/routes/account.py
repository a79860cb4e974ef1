"""account.nicovideo.jp: the 2022–2026 password login, the two-factor step, and sessions.

Flow (protocol.md §4.2): ``GET /login`` (form, tracking cookie) → ``POST /login/redirector``
with ``mail_tel`` and ``password`` → either ``user_session`` + 302 to www, a 302 back to
``/login?message=cant_login``, or (two-factor accounts) a 302 to ``/mfa``, whose form takes
``otp``. The two-factor step lives in an ``mfa_session`` cookie that the redirector sets.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import quote

from nicocomments.config import ENDPOINT_ENV_VARS
from nicosandbox import web
from nicosandbox.state import State, Surface
from nicosandbox.world import Account

MFA_MAX_ATTEMPTS = 3
MFA_EXPIRED_CODE = "mfa_session_expired"
REDIRECTOR_QUERY = "show_button_twitter=1&site=niconico&show_button_facebook=1"


@dataclass
class _MfaStep:
    account: Account
    started_at: float
    wrong_codes: int = 0


class AccountRoutes:
    def __init__(self, state: State) -> None:
        self.state = state
        self._mfa: dict[str, _MfaStep] = {}
        self._lock = threading.Lock()

    def handle(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/") or "/"
        if path == "/login" and request.method == "GET":
            return self._login_page(request)
        if path == "/login/redirector" and request.method == "POST":
            return self._redirector(request)
        if path == "/mfa" and request.method in ("GET", "POST"):
            return self._mfa_step(request)
        return web.not_found()

    # -- pages --------------------------------------------------------------------------------

    def _login_page(self, request: web.Request) -> web.Response:
        notice = ""
        if request.query.get("message") == "cant_login":
            notice = (
                '<div class="notice error">メールアドレスまたはパスワードが間違っています</div>'
            )
        elif "error-code" in request.query:
            notice = (
                '<div class="notice error">二段階認証の有効期限が切れました。'
                "もう一度ログインしてください</div>"
            )
        action = html.escape(f"/account/login/redirector?{REDIRECTOR_QUERY}")
        response = web.page(
            "ログイン - niconico",
            f"""<h1>ログイン</h1>
{notice}
<form action="{action}" method="post" id="login_form">
  <input type="text" name="mail_tel" id="input__mailtel">
  <input type="password" name="password" id="input__password">
  <input type="hidden" name="auth_id" value="{secrets.randbelow(10**9)}">
  <button type="submit" id="login__submit">ログイン</button>
</form>""",
        )
        nicosid = f"{int(self.state.clock())}.{secrets.randbelow(10**10)}"
        response.headers.append(("Set-Cookie", f"nicosid={nicosid}; Path=/; Max-Age=31536000"))
        return response

    def _redirector(self, request: web.Request) -> web.Response:
        form = request.form()
        email = (form.get("mail_tel") or form.get("mail") or "").strip().lower()
        account = self.state.world.accounts.get(email)
        if account is None or not secrets.compare_digest(
            account.password, form.get("password", "")
        ):
            return web.redirect(f"{self.state.url('account')}/login?message=cant_login")
        if account.mfa_code is None:
            return self._logged_in(account)
        token = secrets.token_hex(24)
        with self._lock:
            self._mfa[token] = _MfaStep(account, self.state.clock())
        return web.redirect(
            self._mfa_url(absolute=True), cookies=[f"mfa_session={token}; Path=/; HttpOnly"]
        )

    def _mfa_step(self, request: web.Request) -> web.Response:
        token = request.cookies.get("mfa_session", "")
        with self._lock:
            step = self._mfa.get(token)
            if (
                step is not None
                and self.state.clock() - step.started_at > self.state.settings.mfa_ttl
            ):
                del self._mfa[token]
                step = None
        if step is None:
            return self._expired()
        if request.method == "GET":
            return self._mfa_page(step)
        code = re.sub(r"\s", "", request.form().get("otp", ""))
        if secrets.compare_digest(code, step.account.mfa_code or ""):
            with self._lock:
                self._mfa.pop(token, None)
            return self._logged_in(step.account, extra=["mfa_session=; Path=/; Max-Age=0"])
        with self._lock:
            step.wrong_codes += 1
            if step.wrong_codes >= MFA_MAX_ATTEMPTS:
                self._mfa.pop(token, None)
                return self._expired()
        return self._mfa_page(step, error="認証コードが間違っています")

    def _mfa_page(self, step: _MfaStep, error: str | None = None) -> web.Response:
        local, _, domain = step.account.email.partition("@")
        masked = html.escape(f"{local[:2]}***@{domain}")
        error_html = f'<div class="formError">{html.escape(error)}</div>' if error else ""
        action = html.escape(self._mfa_url(absolute=False))
        return web.page(
            "2段階認証 - niconico",
            f"""<h1>2段階認証</h1>
<div class="pageMainMsg"><span class="userAccount">{masked}</span>に確認コードを送信しました</div>
{error_html}
<form action="{action}" method="post">
  <input type="text" name="otp" id="oneTimePw" inputmode="numeric" autocomplete="one-time-code">
  <input type="text" name="device_name" value="">
  <button type="submit" name="loginBtn" id="loginBtn">ログイン</button>
</form>""",
        )

    # -- helpers ------------------------------------------------------------------------------

    def _mfa_url(self, *, absolute: bool) -> str:
        query = f"site=niconico&continue={quote(self.state.url('www') + '/', safe='')}"
        return f"{self.state.url('account')}/mfa?{query}" if absolute else f"/account/mfa?{query}"

    def _expired(self) -> web.Response:
        return web.redirect(
            f"{self.state.url('account')}/login?error-code={MFA_EXPIRED_CODE}",
            cookies=["mfa_session=; Path=/; Max-Age=0"],
        )

    def _logged_in(self, account: Account, extra: list[str] = ()) -> web.Response:
        token = self.state.sessions.create(account)
        cookies = [
            f"user_session={token}; Path=/; HttpOnly",
            f"user_session_secure={secrets.token_urlsafe(48)}; Path=/; HttpOnly",
            *extra,
        ]
        return web.redirect(f"{self.state.url('www')}/", cookies=cookies)


SURFACE = Surface(
    group="account",
    host="account.nicovideo.jp",
    routes=AccountRoutes,
    env_var=ENDPOINT_ENV_VARS["account"],
)
