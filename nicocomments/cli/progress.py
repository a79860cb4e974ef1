"""A rich progress display for `nicocomments.progress.Progress` events."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from nicocomments.progress import Progress as ProgressEvents
from nicocomments.records import ThreadRef, VideoInfo

#: How often a bar redraws on its own. Each page updates it; between pages only the clock
#: moves. rich's default, 10, took about a fifth of a walk's CPU beyond parsing and storing
#: (benchmarks/bench_fetch.py's overhead); 4 keeps the clock smooth enough for a human.
REDRAWS_PER_SECOND = 4


class RichProgress(ProgressEvents):
    """One bar per thread: comments stored against the server's count, pages, the date reached."""

    def __init__(self, console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[counts]}"),
            TextColumn("{task.fields[pages]} pages"),
            TextColumn("{task.fields[reached]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}", style="yellow"),
            console=console,
            transient=False,
            refresh_per_second=REDRAWS_PER_SECOND,
        )
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._pages: dict[tuple[str, str], int] = {}
        self._phases: dict[tuple[str, str], str] = {}
        self._video_id = ""
        self._started = False
        self._current: TaskID | None = None
        self._waiting: TaskID | None = None

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc) -> None:
        if not self._started:
            return
        if self._waiting is not None:
            self._progress.remove_task(self._waiting)
        if not self._tasks:  # only a waiting line was drawn: leave no trace of it
            self._progress.live.transient = True
        self._progress.stop()

    def video(self, info: VideoInfo) -> None:
        self._video_id = info.video_id

    def thread_started(self, ref: ThreadRef, *, stored: int, phase: str) -> None:
        key = (ref.thread_id, ref.fork)
        self._phases[key] = phase
        if key in self._tasks:
            self._progress.update(self._tasks[key], description=self._label(ref))

    def _label(self, ref: ThreadRef) -> str:
        label = f"{self._video_id} {ref.fork:<5} {ref.thread_id}"
        if self._phases.get((ref.thread_id, ref.fork)) == "newer":
            label += " (newer)"
        return label

    def _task(self, ref: ThreadRef, stored: int) -> TaskID:
        # Drawn from the first page on: a run that fails at once prints only its error.
        key = (ref.thread_id, ref.fork)
        if key not in self._tasks:
            self._start()
            if self._waiting is not None:
                self._progress.remove_task(self._waiting)
                self._waiting = None
            self._pages[key] = 0
            self._tasks[key] = self._progress.add_task(
                self._label(ref),
                total=None,
                completed=stored,
                counts="",
                pages=0,
                reached="",
                note="",
            )
        self._current = self._tasks[key]
        return self._tasks[key]

    def page(
        self, ref: ThreadRef, *, when: int | None, added: int, stored: int, server_count: int | None
    ) -> None:
        key = (ref.thread_id, ref.fork)
        task = self._task(ref, stored - added)
        self._pages[key] += 1
        total = max(server_count or 0, stored) or None
        counts = f"{stored:,}/{server_count:,}" if server_count is not None else f"{stored:,}"
        reached = _date(when) if when is not None else "current window"
        self._progress.update(
            task,
            completed=stored,
            total=total,
            counts=counts,
            pages=self._pages[key],
            reached=reached,
            note="",
        )

    def _start(self) -> None:
        if not self._started:
            self._progress.start()
            self._started = True

    def notice(self, message: str) -> None:
        """A passing note (a retry, a rate-limit wait) beside the thread being read; the next
        page replaces it. Never a log line: these are expected and transient. Without a terminal
        nobody would see it pass: `-v` logs it instead."""
        if not self._progress.console.is_terminal:
            return
        if self._current is None:  # nothing read yet: a line of its own until the first page
            self._start()
            self._waiting = self._progress.add_task(
                self._video_id or "waiting", total=None, counts="", pages=0, reached="", note=""
            )
            self._current = self._waiting
        self._progress.update(self._current, note=message)
        self._progress.refresh()  # at once: a long wait may follow

    def thread_finished(self, ref: ThreadRef, *, stored: int, end: str | None) -> None:
        task = self._tasks.get((ref.thread_id, ref.fork))
        if task is not None:
            current = self._progress.tasks[task]
            self._progress.update(task, total=current.total or max(stored, 1), completed=stored)


def _date(when: int) -> str:
    return "≤ " + datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC")
