"""Error messages that tell the user what to do."""

from __future__ import annotations

import builtins
import io

import pytest

from nicocomments.errors import BadInput
from nicocomments.records import Comment

COMMENT = Comment("1", "main", 1, 10, 1600000000, "text")


def _export(fmt):
    from nicocomments import formats

    formats.writer(fmt)([COMMENT], io.BytesIO(), video_id="sm1", thread_counts={})


def _plot():
    import pandas as pd

    from nicocomments.analysis.plot import plot_summary

    plot_summary("sm1", pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), "x.png")


def _tokenizer():
    from nicocomments.analysis import terms

    terms._tagger.cache_clear()
    try:
        terms.make_tokenizer("mecab")
    finally:
        terms._tagger.cache_clear()


def _browser():
    from nicocomments.auth import session_from_browser

    session_from_browser("firefox")


def _import_parquet():
    from nicocomments.formats.parquet import read_parquet

    list(read_parquet(io.BytesIO(b"PAR1")))


# Every optional library nico uses, the extra that brings it, and something that needs it.
EXTRAS = [
    pytest.param("pyarrow", "parquet", lambda: _export("parquet"), id="export-parquet"),
    pytest.param("pyarrow", "parquet", _import_parquet, id="import-parquet"),
    pytest.param("pysubs2", "ass", lambda: _export("ass"), id="export-ass"),
    pytest.param("matplotlib", "plot", _plot, id="analyze-plot"),
    pytest.param("fugashi", "ja", _tokenizer, id="tokenizer-mecab"),
    pytest.param("browser_cookie3", "browser", _browser, id="login-browser"),
]


@pytest.mark.parametrize(
    ("module", "extra", "use"), EXTRAS, ids=lambda v: getattr(v, "__name__", v)
)
def test_a_missing_extra_names_both_ways_to_install_it(monkeypatch, module, extra, use):
    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name.split(".")[0] == module:
            raise ImportError(f"No module named {module!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    with pytest.raises(BadInput) as raised:
        use()
    message = str(raised.value)
    assert f"pip install 'nicocomments[{extra}]'" in message  # from an index
    assert f"pip install '.[{extra}]'" in message  # from a checkout


# --- typed fields, never edited text (issue 10) -------------------------------------------------


def test_an_error_gets_a_frame_and_keeps_its_kind():
    from nicocomments.errors import ExitStatus, NicoError, SessionExpired

    error = SessionExpired("the key expired", thread_id="1", code="EXPIRED_TOKEN")
    framed = error.but(where="cannot fetch sm9", hint="run `nico login` again")
    assert type(framed) is SessionExpired and framed.exit_status == ExitStatus.AUTH
    assert str(framed) == "cannot fetch sm9: the key expired; run `nico login` again"
    assert (framed.thread_id, framed.code) == ("1", "EXPIRED_TOKEN")
    assert str(error) == "the key expired"  # the original is left as it was
    with pytest.raises(TypeError):
        NicoError("x").but(colour="red")


def test_a_watch_error_names_the_video_and_keeps_the_servers_code():
    from nicocomments.errors import VideoUnavailable
    from nicocomments.nvcomment import parse_api_response

    payload = {
        "meta": {"status": 400, "errorCode": "FORBIDDEN"},
        "data": {"reasonCode": "HIDDEN_VIDEO"},
    }
    with pytest.raises(VideoUnavailable) as raised:
        parse_api_response(payload, "sm9")
    assert str(raised.value) == "sm9 is private"
    assert (raised.value.code, raised.value.video_id) == ("HIDDEN_VIDEO", "sm9")


def test_a_legacy_thread_error_carries_its_resultcode_and_thread():
    from nicocomments.errors import ThreadError
    from nicocomments.legacy.client import _thread_error
    from nicocomments.records import ThreadRef

    error = _thread_error(9, ThreadRef("1173108780", "main", "default"))
    assert isinstance(error, ThreadError)
    assert (error.code, error.resultcode, error.thread_id) == (9, 9, "1173108780")


def test_the_login_hint_is_added_without_changing_the_error():
    from nicocomments.cli.common import Network, explain_login
    from nicocomments.errors import SessionExpired

    network = Network(endpoints=None, session=None, session_origin="session.json")
    explained = explain_login(SessionExpired("thread 1 (main): refused", thread_id="1"), network)
    assert type(explained) is SessionExpired and explained.thread_id == "1"
    assert str(explained) == (
        "thread 1 (main): refused; the session from session.json is not (or no longer) "
        "logged in: run `nico login` again"
    )
