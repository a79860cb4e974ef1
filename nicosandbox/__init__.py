"""nicosandbox: a loopback Niconico emulator for nicocomments' tests, `nico demo` and
`nico sandbox serve`: seeded data, the legacy and nvcomment protocols, faults, statistics.

    with Sandbox() as sb:
        env = sb.env()  # NICO_FLAPI_URL, NICO_ACCOUNT_URL, NICO_WWW_URL, NICO_NVAPI_URL
        ...
        expected_comments(sb.world, "sm9")  # what a perfect legacy client stores
        expected_comments(sb.world, "sm9", "nvcomment")  # … and a perfect nvcomment client

A sibling of the product, not part of it: it imports only nicocomments' foundations (records,
xmlsafe, config), and nicocomments imports it only inside `nico demo` and `nico sandbox serve`.

Layout, from the bottom up (nothing imports upward):

    world.py                     the model: videos, threads, column-wise comments, accounts
    synth.py realdata.py nvworld.py   seeded world data; seed.py puts it together
                                 (`build_world`) and says what is in it (`describe_world`)
    later.py                     `make_later`: a video some time later (deletions, nicoru, forks)
    expected.py                  `expected_comments`: what a perfect client stores;
                                 `expected_observations`: what a re-crawl records
    access.py                    who may watch what (watch data's and nvapi's refusals)
    web.py keys.py threadkeys.py faults.py stats.py
                                 requests and answers, key stores, fault plans, counters
    state.py                     `State`, all a route sees (world, key stores, sessions,
                                 clock, statistics, `Settings`, faults); `Surface`
    routes/                      one module per surface, registered in `routes.SURFACES`
    httpd.py server.py           the HTTP server; `Sandbox` mounts every surface and runs
                                 each request through injections, faults and its route

A new emulator surface (nvapi listings, Snapshot Search, a live message server…) is one
module in `routes/` whose `SURFACE` declares its route group (its URL prefix, which faults
target and statistics count by), its real host, its ``NICO_*_URL`` variable (or None when
nico learns its address from answers) and its routes class, built from the `State`; add it to
`routes.SURFACES`, its data to the world model and its seeding to `seed.build_world`.
"""

from nicosandbox.access import FORBIDDEN_STATUS
from nicosandbox.expected import expected_comments, expected_observations
from nicosandbox.faults import FAULT_KINDS, FaultPlan
from nicosandbox.later import Later, make_later
from nicosandbox.routes import ROUTE_GROUPS, SURFACES
from nicosandbox.routes.nvcomment import LEAF_CAP, LEAF_PER_MINUTE
from nicosandbox.seed import build_world, describe_world
from nicosandbox.server import Sandbox
from nicosandbox.state import Settings, State, Surface
from nicosandbox.stats import Stats
from nicosandbox.world import (
    BIG_THREAD_ID,
    BIG_VIDEO_ID,
    CHANNEL_DEFAULT_THREAD_ID,
    CHANNEL_THREAD_ID,
    CHANNEL_VIDEO_ID,
    DELETED_THREAD_ID,
    DELETED_VIDEO_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_USER_ID,
    DOMESTIC_THREAD_ID,
    DOMESTIC_VIDEO_ID,
    MEDIUM_THREAD_ID,
    MEDIUM_VIDEO_ID,
    MEMBERS_ONLY_THREAD_ID,
    MEMBERS_ONLY_VIDEO_ID,
    MFA_CODE,
    MFA_EMAIL,
    MFA_PASSWORD,
    MFA_USER_ID,
    OPERATOR_DELETED_THREAD_ID,
    OPERATOR_DELETED_VIDEO_ID,
    PREMIUM_ONLY_THREAD_ID,
    PREMIUM_ONLY_VIDEO_ID,
    PRIVATE_THREAD_ID,
    PRIVATE_VIDEO_ID,
    REAL_NEW_THREAD_ID,
    REAL_NEW_VIDEO_ID,
    REAL_NM_THREAD_ID,
    REAL_NM_VIDEO_ID,
    REAL_OLD_THREAD_ID,
    REAL_OLD_VIDEO_ID,
    RIGHTS_DELETED_THREAD_ID,
    RIGHTS_DELETED_VIDEO_ID,
    SHORT_THREAD_ID,
    SHORT_VIDEO_ID,
    Account,
    CommentTable,
    Thread,
    TruthComment,
    Video,
    World,
    retention_window,
)

__all__ = [
    "BIG_THREAD_ID",
    "BIG_VIDEO_ID",
    "CHANNEL_DEFAULT_THREAD_ID",
    "CHANNEL_THREAD_ID",
    "CHANNEL_VIDEO_ID",
    "DELETED_THREAD_ID",
    "DELETED_VIDEO_ID",
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "DEMO_USER_ID",
    "DOMESTIC_THREAD_ID",
    "DOMESTIC_VIDEO_ID",
    "FAULT_KINDS",
    "FORBIDDEN_STATUS",
    "LEAF_CAP",
    "LEAF_PER_MINUTE",
    "MEDIUM_THREAD_ID",
    "MEDIUM_VIDEO_ID",
    "MEMBERS_ONLY_THREAD_ID",
    "MEMBERS_ONLY_VIDEO_ID",
    "MFA_CODE",
    "MFA_EMAIL",
    "MFA_PASSWORD",
    "MFA_USER_ID",
    "OPERATOR_DELETED_THREAD_ID",
    "OPERATOR_DELETED_VIDEO_ID",
    "PREMIUM_ONLY_THREAD_ID",
    "PREMIUM_ONLY_VIDEO_ID",
    "PRIVATE_THREAD_ID",
    "PRIVATE_VIDEO_ID",
    "REAL_NEW_THREAD_ID",
    "REAL_NEW_VIDEO_ID",
    "REAL_NM_THREAD_ID",
    "REAL_NM_VIDEO_ID",
    "REAL_OLD_THREAD_ID",
    "REAL_OLD_VIDEO_ID",
    "RIGHTS_DELETED_THREAD_ID",
    "RIGHTS_DELETED_VIDEO_ID",
    "ROUTE_GROUPS",
    "SHORT_THREAD_ID",
    "SHORT_VIDEO_ID",
    "SURFACES",
    "Account",
    "CommentTable",
    "FaultPlan",
    "Later",
    "Sandbox",
    "Settings",
    "State",
    "Stats",
    "Surface",
    "Thread",
    "TruthComment",
    "Video",
    "World",
    "build_world",
    "describe_world",
    "expected_comments",
    "expected_observations",
    "make_later",
    "retention_window",
]
