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
