"""Seeding: `build_world` fills the world (synthetic threads, the real ones, today's additions),
and `describe_world` says what is in it (accounts, videos, what watch data refuses).

A new surface's world data (users' uploads, mylists, live programs…) is seeded here too, from
its own module and its own random stream, added after everything else so that the existing
data keeps its bytes (as `nvworld` did).
"""

from __future__ import annotations

import time

from nicosandbox import collection, liveworld, nvworld, realdata, synth
from nicosandbox.access import refusal
from nicosandbox.world import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_USER_ID,
    MFA_CODE,
    MFA_EMAIL,
    MFA_PASSWORD,
    MFA_USER_ID,
    Account,
    World,
)


def build_world(seed: int = 0, big_comments: int = 30_000, live_anchor: int | None = None) -> World:
    """The emulator's world: the same bytes for the same arguments. Live programs' times are
    relative to ``live_anchor`` (default: now, so that one program is on air)."""
    world = World(seed=seed)
    world.live_anchor = int(time.time()) if live_anchor is None else live_anchor
    _add_accounts(world)
    synth.add_synthetic_videos(world, seed=seed, big_comments=big_comments)
    realdata.add_real_videos(world)
    nvworld.add_nvcomment_data(world, seed=seed)
    liveworld.add_live_programs(world.live_programs, seed=seed, anchor=world.live_anchor)
    return world


def build_collection_world(seed: int = 0, *, size: int = 220, later_at: int | None = None) -> World:
    """The world `nico crawl` is tested on: the accounts, a collection of ``size`` small
    videos and a channel (see `collection`), without the big histories of `build_world`. With
    ``later_at`` (Unix s), the same world as it is at that time: new comments on some videos,
    new videos (`collection.add_later`, `collection.add_channel_later`)."""
    world = World(seed=seed)
    _add_accounts(world)
    collection.add_collection(world, seed=seed, size=size)
    collection.add_channel(world, seed=seed)
    if later_at is not None:
        collection.add_later(world, seed=seed, at=later_at, size=size)
        collection.add_channel_later(world, seed=seed, at=later_at)
    return world


def _add_accounts(world: World) -> None:
    for account in (
        Account(DEMO_USER_ID, DEMO_EMAIL, DEMO_PASSWORD, "デモユーザー", True),
        Account(MFA_USER_ID, MFA_EMAIL, MFA_PASSWORD, "二段階ユーザー", False, MFA_CODE),
    ):
        world.accounts[account.email] = account


def describe_world(world: World) -> str:
    """The accounts (with their passwords: public test values) and the videos, their threads
    and comment counts, and how watch data refuses a guest."""
    lines = ["Accounts:"]
    for a in world.accounts.values():
        extra = f", two-factor code {a.mfa_code}" if a.mfa_code else ""
        kind = "premium" if a.is_premium else "general"
        lines.append(f"  {a.email} / {a.password}  (user {a.user_id}, {kind}{extra})")
    lines.append("Videos:")
    for v in world.videos.values():
        parts = []
        for tid, fork in v.threads:
            t = world.threads[(tid, fork)]
            key = ", key" if t.needs_key else ""
            parts.append(f"{tid}/{fork} {len(t.comments):,}{key}")
        state = f"  [deleted={v.deleted}]" if v.deleted else ""
        refused = refusal(v, None)  # as a guest sees it
        if refused:
            status, error_code, reason = refused
            but = ", premium viewers may watch" if v.access == "premium" else ""
            state += f"  [watch data: {status} {error_code}{'/' + reason if reason else ''}{but}]"
        lines.append(f"  {v.video_id:<11} {v.duration_s:>5}s  {'; '.join(parts)}{state}  {v.title}")
    if world.live_programs:
        lines.append("Live programs (times from the world's anchor):")
        for p in world.live_programs.values():
            chats = sum(1 for m in p.messages if m.kind in ("chat", "overflowed_chat"))
            lines.append(
                f"  {p.program_id:<11} {p.end_time - p.begin_time:>6}s  {chats:,} comments, "
                f"{len(p.messages) - chats:,} other messages; timeshift {p.timeshift}  {p.title}"
            )
    return "\n".join(lines)
