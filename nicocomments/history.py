"""Paging backward through a thread's history with the ``when`` cursor.

This module knows nothing about protocols or storage: it takes a function that asks for the page
"at or before ``when``" and yields one `Step` per request. The caller stores each step (and the
cursor in it) before asking for the next one, which is what makes a walk resumable.

The rules, and why:

* The next ``when`` is one second after the *minimum* date over the whole page. Pages are not
  guaranteed to be ordered, so the first comment is not necessarily the oldest (Niconicome #63).
  The one-second overlap keeps the walk exact whether the server treats ``when`` as inclusive or
  exclusive (protocol.md, "Uncertain" #2), and when a burst of comments shares one second across
  a page boundary. The overlap is de-duplicated on (thread, fork, no) by the store.
* If that rule would not move the cursor back (a whole page from one or two seconds), step back
  one second and report the seconds left behind: they may hold comments the server would not
  return.
* Stop when comment ``stop_no`` is reached (no 1 for a full walk; the newest stored no when
  catching up), when the cursor passes ``floor`` (the earliest date a comment of the video can
  carry: `limits.earliest_date`), or after an empty page. The clients refuse a page whose
  numbers or dates cannot be right (`limits.page_problem`), so none of these is taken from a
  value that was not believable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from nicocomments.records import Page

PageAt = Callable[[int], Page]

# Why a walk ended.
REACHED_FIRST = "reached comment no 1"
CAUGHT_UP = "reached comments already stored"
EMPTY_PAGE = "the server returned no older comments"
BEFORE_POSTING = "passed the video's posting time"


@dataclass(frozen=True)
class Step:
    when: int  # the cursor this page was asked for
    page: Page
    next_when: int | None  # the cursor for the next request; None when the walk is over
    done: str | None = None  # why the walk ended, when it did
    skipped: tuple[int, int] | None = None  # seconds (from, to) that may hold unreturned comments

    @property
    def oldest(self) -> int | None:
        return min((c.posted_at for c in self.page.comments), default=None)


def iter_history(page_at: PageAt, *, start: int, floor: int, stop_no: int = 1) -> Iterator[Step]:
    """Yield the pages of one thread from ``start`` back to its beginning (or to ``stop_no``);
    ``page_at(when)`` asks the server for the page at or before ``when``."""
    when = start
    while True:
        page = page_at(when)
        comments = page.comments
        if not comments:
            yield Step(when, page, None, EMPTY_PAGE)
            return
        if min(c.no for c in comments) <= stop_no:
            yield Step(when, page, None, REACHED_FIRST if stop_no <= 1 else CAUGHT_UP)
            return
        oldest = min(c.posted_at for c in comments)
        next_when = oldest + 1
        skipped = None
        if next_when >= when:
            next_when = when - 1
            skipped = (min(oldest, when), when)
        if next_when < floor:
            yield Step(when, page, None, BEFORE_POSTING, skipped)
            return
        yield Step(when, page, next_when, None, skipped)
        when = next_when
