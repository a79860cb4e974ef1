"""Plain request/response values passed between the HTTP server and the route handlers."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote

TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"
XML = "text/xml; charset=UTF-8"
JSON = "application/json; charset=utf-8"


@dataclass
class Request:
    method: str
    group: str  # route group, the first path segment ("flapi", "msg", …)
    path: str  # the path after the group prefix, e.g. "/api/getflv/sm9"
    query: dict[str, str]  # first value of each parameter (blank values kept)
    headers: Mapping[str, str]
    body: bytes
    cookies: dict[str, str]
    serial: int  # arrival number, unique per sandbox

    def form(self) -> dict[str, str]:
        text = self.body.decode("utf-8", errors="replace")
        return {k: v for k, v in reversed(parse_qsl(text, keep_blank_values=True))}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = TEXT
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Run once the whole answer went out (stats count only answers actually delivered).
    on_sent: list[Callable[[], None]] = field(default_factory=list)
    repeat: int = 1  # the body goes out this many times over (huge answers for tests)
    declare_length: bool = True  # False: no Content-Length, the connection closes at the end


def text(body: str, status: int = 200, content_type: str = TEXT) -> Response:
    return Response(status, body.encode("utf-8"), content_type)


def json_response(payload: object, status: int = 200) -> Response:
    """Compact JSON, UTF-8 as is (the real APIs do not escape non-ASCII)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return Response(status, body.encode("utf-8"), JSON)


def api_error(status: int, error_code: str, data: dict | None = None) -> Response:
    """``{"meta": {"status", "errorCode"}[, "data"]}``, the error shape of every JSON API."""
    payload: dict = {"meta": {"status": status, "errorCode": error_code}}
    if data is not None:
        payload["data"] = data
    return json_response(payload, status)


def page(title: str, body_html: str, status: int = 200) -> Response:
    doc = (
        f'<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body_html}\n</body></html>\n"
    )
    return Response(status, doc.encode("utf-8"), HTML)


def redirect(location: str, *, status: int = 302, cookies: list[str] = ()) -> Response:
    # A small body, as real servers send: it also lets a "truncate" fault cut something.
    body = f'<html><body><a href="{html.escape(location)}">moved</a></body></html>'
    response = Response(status, body.encode("utf-8"), HTML, [("Location", location)])
    response.headers.extend(("Set-Cookie", c) for c in cookies)
    return response


def not_found() -> Response:
    return page("404 Not Found", "<h1>Not Found</h1>", status=404)


def form_encode(pairs: list[tuple[str, str]]) -> str:
    """``k=v&…`` with values percent-encoded the way flapi did (``~`` too)."""
    return "&".join(f"{k}={quote(str(v), safe='').replace('~', '%7E')}" for k, v in pairs)


def parse_cookies(header: str | None) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in cookies:
            cookies[name] = value.strip().strip('"')
    return cookies
