"""`Progress`: how a fetch job (a video's, a live program's) reports what it does. The CLI's
progress display implements it; library code only calls it (stdlib only)."""

from __future__ import annotations

from nicocomments.records import ThreadRef, VideoInfo


class Progress:
    """Callbacks for the user interface; every method may be overridden, none must be."""

    def video(self, info: VideoInfo) -> None: ...

    def thread_started(self, ref: ThreadRef, *, stored: int, phase: str) -> None: ...

    def page(
        self, ref: ThreadRef, *, when: int | None, added: int, stored: int, server_count: int | None
    ) -> None: ...

    def thread_finished(self, ref: ThreadRef, *, stored: int, end: str | None) -> None: ...
