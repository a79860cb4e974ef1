"""Reading watch pages (nicocomments.watchpage): the embedded watch data, and pages with none."""

from __future__ import annotations

import pytest

from nicocomments.watchpage import parse_html, parse_watch_page
from nicosandbox import SHORT_VIDEO_ID
from tests.helpers import stored_comments

NOTHING_TO_READ = [b"", b"   \r\n\t", b"<!-- the site's placeholder -->", "", "\n"]


@pytest.mark.parametrize("page", NOTHING_TO_READ)
def test_a_page_with_nothing_in_it_has_no_watch_data(page):
    # lxml raises ParserError ("Document is empty") for these, not ValueError.
    assert parse_html(page) is None
    assert parse_watch_page(page) is None


def test_text_that_declares_its_encoding_is_not_read():
    assert parse_html('<?xml version="1.0" encoding="utf-8"?><html></html>') is None


def test_parse_html_gives_a_tree_without_comments():
    document = parse_html(b"<html><body><!-- x --><form action='/mfa'></form></body></html>")
    assert [form.get("action") for form in document.iter("form")] == ["/mfa"]
    assert "x" not in "".join(document.itertext())


def test_a_blank_watch_page_over_http_falls_back_to_the_json_answer(sandbox, nico, tmp_path):
    # The watch API and then the watch page answer 200 with a blank page: the client asks for
    # ?responseType=json next, instead of failing on the blank page.
    sandbox.inject("www", b"\n", content_type="text/html; charset=utf-8", times=2)
    db = tmp_path / "n.db"
    result = nico("fetch", SHORT_VIDEO_ID, "--db", db, "--interval", "0", "--protocol", "nvcomment")
    assert result.exit_code == 0, result.stderr
    assert stored_comments(db, SHORT_VIDEO_ID)
