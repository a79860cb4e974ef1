"""yt-dlp's ``<title> [<id>].comments.json``: the comments of one ``/v1/threads`` answer,
flattened into one array. Read only."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import IO, Any

from nicocomments.chats import int_or_none, unix_seconds
from nicocomments.formats.common import Item, MalformedFile, json_items, text_of, v1_to_comment
from nicocomments.records import JST

OWNER_STRETCH_LIMIT = 10_000  # owner threads are a few hundred comments; memory stays bounded
OWNER_SCRIPT_PREFIXES = ("/", "＠", "@")  # niwango scripts and nicoscript, owner-only features


def read_ytdlp(stream: IO[bytes], video_id: str) -> Iterator[Item]:
    """yt-dlp's ``<title> [<id>].comments.json``: every comment of one ``/v1/threads`` answer,
    flattened into one array (yt-dlp keeps ``data.threads[*].comments[*]`` and drops the
    rest), so which thread and fork a comment came from is lost. What the file still carries:

    * **thread order**: yt-dlp keeps the threads in the server's order, which is the watch
      data's targets: owner, main, easy (a channel video: owner and main of its ordinary
      thread, then the key-protected main, and easy);
    * **numbering**: each thread is numbered from 1 and listed in ascending ``no``, so where
      ``no`` does not increase a new thread begins;
    * **the owner thread** comes first when it is there, and it is the uploader's: every
      comment from one user, numbered 1, 2, 3, … without a gap (it is served whole), and
      either saved together (one ``postedAt`` second for all, as the owner editor saves them)
      or holding owner scripts (``/…`` niwango, ``＠…``/``@…`` nicoscript).

    So: the leading stretch of one user's comments is ``owner`` if it looks like that, and the
    runs after it (cut where the owner stretch ends and wherever ``no`` starts again) are, in
    order, ``main`` and ``easy``. Everything goes to thread ``ytdlp:<video id>``; a run whose
    fork was already used (a channel video's second main thread) gets a thread of its own,
    ``ytdlp:<video id>:<run>``, so no two comments are ever merged by mistake. What the file
    cannot tell is in the README ("Import formats"). At most the owner stretch is held in
    memory."""
    base = f"ytdlp:{video_id}"
    items = json_items(stream, "item")
    plain = iter(("main", "easy"))
    used: set[str] = set()
    run = 0

    def start_run(fork: str) -> str:
        nonlocal run
        run += 1
        thread_id = base if fork not in used else f"{base}:{run}"
        used.add(fork)
        return thread_id

    leading, following = _leading_stretch(items)
    if _looks_like_owner(leading):
        thread_id = start_run("owner")
        for raw in leading:
            yield v1_to_comment(raw, thread_id, "owner")
        leading = []
    fork, thread_id, previous_no = "main", "", None
    for raw in itertools.chain(leading, following):
        no = _ytdlp_no(raw)
        if previous_no is None or no <= previous_no:
            fork = next(plain, "main")
            thread_id = start_run(fork)
        previous_no = no
        yield v1_to_comment(raw, thread_id, fork)


def _ytdlp_no(raw: Any) -> int:
    if not isinstance(raw, dict):
        raise MalformedFile("a yt-dlp comment is not an object")
    no = int_or_none(raw.get("no"))
    if no is None:
        raise MalformedFile("a yt-dlp comment has no no")
    return no


def _leading_stretch(items: Iterator[Any]) -> tuple[list[dict], Iterator[Any]]:
    """The comments at the start by one user in ascending ``no`` (the owner thread, if the
    file has one; at most `OWNER_STRETCH_LIMIT`, and a longer stretch is no owner thread),
    and the rest of ``items``."""
    leading: list[dict] = []
    for raw in items:
        no = _ytdlp_no(raw)
        user = text_of(raw.get("userId"), "a yt-dlp comment's userId")
        if leading and (
            user != leading[0]["userId"]
            or no <= leading[-1]["no"]
            or len(leading) >= OWNER_STRETCH_LIMIT
        ):
            return leading, itertools.chain([raw], items)
        leading.append({**raw, "no": no, "userId": user})
    return leading, iter(())


def _looks_like_owner(stretch: list[dict]) -> bool:
    """One user's comments numbered 1, 2, … without a gap, saved in one second or holding
    owner scripts: the owner thread."""
    if not stretch or not stretch[0]["userId"] or len(stretch) >= OWNER_STRETCH_LIMIT:
        return False
    if [c["no"] for c in stretch] != list(range(1, len(stretch) + 1)):
        return False
    saved_together = len(stretch) > 1 and len({_second(c) for c in stretch}) == 1
    scripted = any(
        isinstance(body := c.get("body"), str) and body.startswith(OWNER_SCRIPT_PREFIXES)
        for c in stretch
    )
    return saved_together or scripted


def _second(raw: dict) -> int | None:
    try:
        return unix_seconds(raw.get("postedAt"), JST)
    except ValueError:
        return None
