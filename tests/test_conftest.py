"""The test suite's own plumbing: where the shared samples are looked for."""

from __future__ import annotations

from tests.conftest import shared_dir


def _samples(folder):
    (folder / "samples").mkdir(parents=True)
    (folder / "samples" / "SOURCES.md").write_text("sources\n")
    return folder


def test_shared_samples_come_from_the_variable_or_beside_the_checkout_only(tmp_path):
    checkout = tmp_path / "elsewhere" / "nicocomments"
    checkout.mkdir(parents=True)
    assert shared_dir({}, checkout) is None  # no machine's own path is tried
    beside = _samples(tmp_path / "elsewhere" / "shared")
    assert shared_dir({}, checkout) == beside
    named = _samples(tmp_path / "mine")
    assert shared_dir({"NICO_SHARED_DIR": str(named)}, checkout) == named
