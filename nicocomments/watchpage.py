"""Watch data embedded in a watch page's HTML (pure parsing; both protocols use it).

Since the 2024 relaunch the page carries ``<meta name="server-response" content="…">``; from 2017
to 2024 it carried ``<div id="js-initial-watch-data" data-api-data="…">``. Both hold
HTML-escaped JSON, and both must be read from the raw answer, not a rendered DOM: the site's
own script removes them after start-up (protocol.md §3.1).
"""

from __future__ import annotations

from typing import Any

import orjson
from lxml import etree, html

from nicocomments.errors import BadAnswer

_HTML_PARSER = html.HTMLParser(no_network=True, remove_comments=True)


def parse_html(page: bytes | str) -> html.HtmlElement | None:
    """A page from the site as an lxml tree (nothing fetched, comments dropped), or None when
    there is nothing to read: lxml raises ``ParserError`` for an empty, blank or comment-only
    page, and ``ValueError`` for text that declares its encoding."""
    try:
        return html.fromstring(page, parser=_HTML_PARSER)
    except (etree.LxmlError, ValueError):
        return None


def parse_watch_page(page: bytes | str) -> dict[str, Any] | None:
    """The JSON embedded in a watch page, or None when it has none (an empty page has none).

    lxml unescapes attribute values, so the JSON comes out as the site wrote it."""
    document = parse_html(page)
    if document is None:
        return None
    for meta in document.iter("meta"):
        if meta.get("name") == "server-response" and meta.get("content"):
            return _json(meta.get("content"), "server-response meta tag")
    for element in document.iter("div"):
        if element.get("id") == "js-initial-watch-data" and element.get("data-api-data"):
            return _json(element.get("data-api-data"), "js-initial-watch-data block")
    return None


def unwrap_watch_data(payload: dict[str, Any]) -> Any:
    """The watch data inside any of its envelopes: ``{meta, data}`` (``/api/watch/v3``),
    ``{meta, data: {response}}`` (the ``server-response`` meta tag and ``?responseType=json``),
    or none (bare watch data). None when an envelope holds no data (an error answer)."""
    data = payload.get("data") if "meta" in payload or "data" in payload else payload
    if isinstance(data, dict) and isinstance(data.get("response"), dict):
        data = data["response"]
    return data


def _json(text: str, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)  # not the stdlib's parser, which recurses on nesting
    except orjson.JSONDecodeError:
        raise BadAnswer(f"the watch page's {what} is not JSON") from None
    if not isinstance(value, dict):
        raise BadAnswer(f"the watch page's {what} is not a JSON object")
    return value
