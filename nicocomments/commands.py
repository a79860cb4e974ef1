"""The comment commands the player understands: where a comment goes, how big, what colour.

One vocabulary for everything that reads `Comment.commands` (analysis counts them, the ASS
export draws them). A comment's commands are space-separated; those not listed here (``184``,
``patissier``, ``full``, …) mean something else or nothing to the player.
"""

from __future__ import annotations

import string

POSITIONS = ("naka", "ue", "shita")
SIZES = ("medium", "big", "small")
COLORS = {
    "white": 0xFFFFFF, "red": 0xFF0000, "pink": 0xFF8080, "orange": 0xFFC000,
    "yellow": 0xFFFF00, "green": 0x00FF00, "cyan": 0x00FFFF, "blue": 0x0000FF,
    "purple": 0xC000FF, "black": 0x000000, "white2": 0xCCCC99, "niconicowhite": 0xCCCC99,
    "red2": 0xCC0033, "truered": 0xCC0033, "pink2": 0xFF33CC, "orange2": 0xFF6600,
    "passionorange": 0xFF6600, "yellow2": 0x999900, "madyellow": 0x999900,
    "green2": 0x00CC66, "elementalgreen": 0x00CC66, "cyan2": 0x00CCCC, "blue2": 0x3399FF,
    "marineblue": 0x3399FF, "purple2": 0x6633CC, "nobleviolet": 0x6633CC, "black2": 0x666666,
}  # fmt: skip
DEFAULTS = {"position": "naka", "size": "medium", "color": "white"}  # what no command means


def color_code(command: str) -> int | None:
    """The RGB (``0xRRGGBB``) a colour command asks for: one of `COLORS`' names or ``#RRGGBB``
    (six hex digits, either case); None for any other command.

    >>> hex(color_code("#ff8000")), hex(color_code("red")), color_code("#-12345")
    ('0xff8000', '0xff0000', None)
    """
    if command in COLORS:
        return COLORS[command]
    digits = command[1:]
    if command[:1] == "#" and len(digits) == 6 and all(c in string.hexdigits for c in digits):
        return int(digits, 16)
    return None
