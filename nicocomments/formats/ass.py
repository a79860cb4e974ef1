"""ASS subtitles: comments laid out as the player shows them, for any video player (pysubs2).

pysubs2 writes the file (styles, timing, escaping rules); the layout is ours and deliberately
simple: the 640×360 stage of the Niconico player, scrolling comments crossing it in 4 seconds,
``ue``/``shita`` comments fixed at the top/bottom for 3 seconds, each in the first free row
(the least busy one when all are taken), sizes and colours from the commands. Owner scripts
(``/…``) and deleted comments are left out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import IO

from nicocomments.commands import DEFAULTS, SIZES, color_code
from nicocomments.errors import missing_extra
from nicocomments.records import Comment

WIDTH, HEIGHT = 640, 360
SCROLL_MS, FIXED_MS = 4_000, 3_000
FONT_SIZES = {"big": 39, "medium": 24, "small": 15}  # px on the 360-px stage, per SIZES


def write_ass(
    comments: Iterable[Comment], out: IO[bytes], *, video_id: str, thread_counts: dict
) -> int:
    try:
        import pysubs2
    except ImportError:
        raise missing_extra("writing ASS", "pysubs2", "ass") from None
    subs = pysubs2.SSAFile()
    subs.info.update({"Title": video_id, "PlayResX": str(WIDTH), "PlayResY": str(HEIGHT)})
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname="sans-serif",
        fontsize=FONT_SIZES[DEFAULTS["size"]],
        primarycolor=pysubs2.Color(255, 255, 255),
        outlinecolor=pysubs2.Color(0, 0, 0),
        outline=1.0,
        shadow=0.0,
        alignment=pysubs2.Alignment.TOP_LEFT,
    )
    rows = _Rows()
    written = 0
    for c in sorted(
        (c for c in comments if not c.is_deleted and not c.content.startswith("/")),
        key=lambda c: (c.vpos_ms, c.posted_at, c.no),
    ):
        event = _event(pysubs2, c, rows)
        if event is not None:
            subs.events.append(event)
            written += 1
    out.write(subs.to_string("ass").encode("utf-8"))
    return written


def _event(pysubs2, c: Comment, rows: _Rows):
    text = c.content.strip("\n")
    if not text.strip():
        return None
    commands = c.commands.split()
    size = FONT_SIZES[next((s for s in commands if s in SIZES), DEFAULTS["size"])]
    color = next((rgb for rgb in map(color_code, commands) if rgb is not None), 0xFFFFFF)
    lines = text.split("\n")
    width = max(_width(line) for line in lines) * size
    height = size * len(lines)
    start = max(c.vpos_ms, 0)
    tags = [f"\\fs{size}"]
    if color != 0xFFFFFF:
        tags.append(f"\\c&H{color & 0xFF:02X}{color >> 8 & 0xFF:02X}{color >> 16:02X}&")
        if color == 0x000000:
            tags.append("\\3c&HFFFFFF&")
    if "ue" in commands or "shita" in commands:
        end = start + FIXED_MS
        y = rows.fixed(start, end, height, bottom="shita" in commands)
        tags.insert(0, f"\\an8\\pos({WIDTH // 2},{y})")
    else:
        end = start + SCROLL_MS
        y = rows.scrolling(start, width, height)
        tags.insert(0, f"\\move({WIDTH},{y},{-int(width)},{y})")
    body = "\\N".join(_escape(line) for line in lines)
    return pysubs2.SSAEvent(start=start, end=end, text="{" + "".join(tags) + "}" + body)


def _width(line: str) -> float:
    """Width in em: wide (CJK) characters 1, the others ½."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.5 for ch in line) or 0.5


def _escape(line: str) -> str:
    return line.replace("\\", "\\\u200b").replace("{", "\\{").replace("}", "\\}")


class _Rows:
    """Which vertical positions are free: per row, when it can take the next comment."""

    def __init__(self) -> None:
        self.scroll_free: dict[int, tuple[int, float]] = {}  # y → (start, width) of its last
        self.fixed_until: dict[tuple[bool, int], int] = {}

    def scrolling(self, start: int, width: float, height: int) -> int:
        speed = (WIDTH + width) / SCROLL_MS
        candidates = range(0, max(HEIGHT - height, 0) + 1, max(height, 1))
        best_y, best_wait = 0, float("inf")
        for y in candidates:
            last = self.scroll_free.get(y)
            if last is None:
                best_y, best_wait = y, 0
                break
            last_start, last_width = last
            last_speed = (WIDTH + last_width) / SCROLL_MS
            tail_in = last_start + last_width / last_speed  # the last one has fully entered
            # ... and the new one, faster or not, never catches up before the left edge.
            catch = last_start + SCROLL_MS - WIDTH / speed
            wait = max(tail_in, catch) - start
            if wait <= 0:
                best_y, best_wait = y, 0
                break
            if wait < best_wait:
                best_y, best_wait = y, wait
        self.scroll_free[best_y] = (start, width)
        return best_y

    def fixed(self, start: int, end: int, height: int, *, bottom: bool) -> int:
        step = max(height, 1)
        best, best_until = 0, None
        for i in range(max(HEIGHT // step, 1)):
            until = self.fixed_until.get((bottom, i), 0)
            if until <= start:
                best = i
                break
            if best_until is None or until < best_until:
                best, best_until = i, until
        self.fixed_until[(bottom, best)] = end
        return HEIGHT - (best + 1) * step if bottom else best * step
