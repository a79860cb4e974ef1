"""The comment-command vocabulary shared by analysis and the ASS export."""

from __future__ import annotations

import pytest

from nicocomments.commands import COLORS, DEFAULTS, POSITIONS, SIZES, color_code


@pytest.mark.parametrize(
    ("command", "rgb"),
    [("red", 0xFF0000), ("black", 0x000000), ("#ff8000", 0xFF8000), ("#FF8000", 0xFF8000)],
)
def test_color_code_reads_names_and_hex(command, rgb):
    assert color_code(command) == rgb


@pytest.mark.parametrize(
    "command",
    # int(…, 16) takes a sign, underscores and spaces: none of them is a colour.
    ["#+12345", "#-12345", "#12_345", "# 12345", "#12345", "#1234567", "#gg0000", "RED", "ue", ""],
)
def test_color_code_refuses_anything_else(command):
    assert color_code(command) is None


def test_the_defaults_are_in_the_vocabulary():
    assert DEFAULTS["position"] in POSITIONS
    assert DEFAULTS["size"] in SIZES
    assert DEFAULTS["color"] in COLORS
