"""`expected_comments`: what a perfect client stores, per protocol (no HTTP here)."""

from __future__ import annotations

from collections.abc import Sequence

from nicocomments.records import Comment
from nicosandbox.later import Later
from nicosandbox.world import World


def expected_comments(
    world: World, video_id: str, protocol: str = "legacy", *, forks: Sequence[str] | None = None
) -> list[Comment]:
    """Everything a perfect client collects for this video, as the protocol exposes it.

    ``legacy``: every comment (deleted ones as the message server shows them) of the
    threads a legacy client reads: main and owner by default (getflv names no easy fork,
    so the legacy client never asks for fork 2); pass ``forks=("easy",)`` (or all three)
    for a client that does.
    ``nvcomment``: the non-deleted comments of every ``nvComment`` target, read to the end
    of its history. ``source`` is None there: which one a client stores depends on which
    answer delivered a comment first ("trunk" from ``when`` pages and the window's newest,
    "leaf" from the window's per-minute fill), so compare it separately.
    `forks` keeps only those forks (None: the protocol's default set).
    """
    if protocol == "legacy":
        return legacy_comments(world, video_id, forks or ("main", "owner"))
    if protocol == "nvcomment":
        return nvcomment_comments(world, video_id, forks)
    raise ValueError(f"unknown protocol {protocol!r}")


def legacy_comments(world: World, video_id: str, forks: Sequence[str]) -> list[Comment]:
    """Every comment of the video's threads in `forks`, deleted ones included, as the message
    server's ``<chat>`` elements show them (vpos in 1/100 s; owner chats carry no user id)."""
    video = world.videos[video_id]
    out: list[Comment] = []
    for key in video.threads:
        thread = world.threads[key]
        if thread.fork not in forks:
            continue
        owner = thread.fork == "owner"
        for c in thread.comments:
            deleted = c.deleted_reason is not None
            out.append(
                Comment(
                    thread_id=thread.thread_id,
                    fork=thread.fork,
                    no=c.no,
                    vpos_ms=(c.vpos_ms // 10) * 10,
                    posted_at=c.posted_at,
                    content="" if deleted else c.content,
                    commands="" if deleted else c.commands,
                    date_usec=None if deleted else c.date_usec,
                    user_id=None if (owner or deleted) else c.user_id,
                    is_premium=c.is_premium,
                    is_anonymous=c.is_anonymous,
                    is_deleted=deleted,
                    deleted_reason=c.deleted_reason,
                    score=None if deleted or not c.score else c.score,
                    nicoru_count=None if deleted or not c.nicoru_count else c.nicoru_count,
                )
            )
    return out


def nvcomment_comments(world: World, video_id: str, forks: Sequence[str] | None) -> list[Comment]:
    """The non-deleted comments of every ``nvComment`` target (in target order, then by
    ``no``), mapped the way a ``/v1/threads`` comment object reads: ``commands`` is the
    ``commands`` array joined with single spaces, ``is_anonymous`` is ``"184" in commands``,
    ``user_id`` is ``userId`` (the uploader's id on owner comments), ``score`` and
    ``nicoru_count`` are ints (0 included), ``comment_id`` is ``id``; the v1 API has no
    ``date_usec``, and ``source`` is left None (see `expected_comments`)."""
    out: list[Comment] = []
    for thread_id, fork in world.nvcomment_targets(video_id):
        if forks is not None and fork not in forks:
            continue
        thread = world.thread(thread_id, fork)
        if thread is None:
            continue
        table = thread.comments
        deleted = table.deleted
        for i in range(len(table)):
            if deleted[i]:
                continue
            commands = table.commands[i].split()
            out.append(
                Comment(
                    thread_id=thread_id,
                    fork=fork,
                    no=table.nos[i],
                    vpos_ms=table.vpos_ms[i],
                    posted_at=table.posted_at[i],
                    content=table.content[i],
                    commands=" ".join(commands),
                    date_usec=None,
                    user_id=table.user_id[i],
                    is_premium=table.is_premium(i),
                    is_anonymous="184" in commands,
                    is_deleted=False,
                    deleted_reason=None,
                    score=table.score[i],
                    nicoru_count=table.nicoru[i],
                    comment_id=table.comment_id(i),
                    source=None,
                )
            )
    return out


# --- live programs (live.md §4) ----------------------------------------------------------------

LIVE_POSITIONS = ("", "shita", "ue")  # naka omitted
LIVE_SIZES = ("", "small", "big")  # medium omitted
LIVE_COLOURS = (
    "", "red", "pink", "orange", "yellow", "green", "cyan", "blue", "purple", "black",
    "white2", "red2", "pink2", "orange2", "yellow2", "green2", "cyan2", "blue2", "purple2",
    "black2",
)  # fmt: skip
LIVE_FONTS = ("", "mincho", "gothic")


def live_commands(raw_user_id: int, modifier: tuple) -> str:
    """The classic live logs' commands, as live.md §4 orders them."""
    position, size, colour, font, opacity = modifier
    words = ["184" if raw_user_id <= 0 else ""]
    words += [LIVE_POSITIONS[position], LIVE_SIZES[size]]
    words.append(
        "#{:02x}{:02x}{:02x}".format(*colour) if isinstance(colour, tuple) else LIVE_COLOURS[colour]
    )
    words += [LIVE_FONTS[font], "translucent" if opacity == 1 else ""]
    return " ".join(word for word in words if word)


def expected_live_comments(world: World, program_id: str, *, now: float) -> list[dict]:
    """Every comment (chat or overflowed chat) the program published by ``now``, as a perfect
    client stores it: a row of the ``comments`` table (``posted_at`` in Unix seconds)."""
    program = world.live_programs[program_id]
    rows = []
    for m in program.published(now):
        if m.kind not in ("chat", "overflowed_chat"):
            continue
        rows.append(
            {
                "video_id": program_id,
                "thread_id": program_id,
                "fork": "live",
                "no": m.no,
                "vpos_ms": m.vpos * 10,
                "posted_at": m.at,
                "date_usec": m.nanos // 1000,
                "content": m.content,
                "commands": live_commands(m.raw_user_id, m.modifier),
                "user_id": str(m.raw_user_id) if m.raw_user_id > 0 else m.hashed_user_id,
                "is_premium": m.premium,
                "is_anonymous": m.raw_user_id <= 0,
                "message_id": m.message_id,
                "is_overflowed": m.kind == "overflowed_chat",
                "name": m.name,
            }
        )
    return rows


def expected_live_events(world: World, program_id: str, *, now: float) -> list[dict]:
    """The other messages (gifts, notifications, nicoads) published by ``now``: the message
    id, the member's name and its fields (as proto3 JSON names them: int64 as strings)."""
    program = world.live_programs[program_id]
    return [
        {
            "message_id": m.message_id,
            "kind": m.kind,
            "posted_at": m.at,
            "payload": {
                k: str(v) if isinstance(v, int) and k in _INT64 else v for k, v in m.fields
            },
        }
        for m in program.published(now)
        if m.kind not in ("chat", "overflowed_chat")
    ]


_INT64 = ("advertiser_user_id", "point")  # proto3 JSON writes int64 as a string


def expected_observations(later: Later, protocol: str = "nvcomment") -> dict[str, dict]:
    """What a perfect client records when it re-crawls ``later.video_id`` completely (every
    thread walked again to its first comment) after `later.make_later`, having collected the
    whole video before. Keyed by change kind: each comment (thread_id, fork, no) → the
    (nicoru_count, score, is_deleted) states its observations hold, oldest first: the state
    the first crawl stored, then the one the re-crawl saw. ``added``: the new fork's comments
    (nvcomment only: the legacy protocol never names the fork), with no observations.

    As the protocol shows them: nvcomment sends every count (0 included); the legacy message
    server leaves a zero score or nicoru count out (None), and a deleted chat carries neither,
    so its last known ones stay."""
    if protocol not in ("nvcomment", "legacy"):
        raise ValueError(f"unknown protocol {protocol!r}")

    def shown(state: tuple[int, int], deleted: bool) -> tuple:
        if protocol == "legacy":
            return (state[0] or None, state[1] or None, deleted)
        return (*state, deleted)

    def changed(changes: dict) -> dict:
        return {key: [shown(old, False), shown(new, False)] for key, (old, new) in changes.items()}

    return {
        "deleted": {
            key: [shown(kept, False), shown(kept, True)] for key, kept in later.deleted.items()
        },
        "nicoru_changed": changed(later.nicoru),
        "score_changed": changed(later.score),
        "added": {key: [] for key in later.added} if protocol == "nvcomment" else {},
    }
