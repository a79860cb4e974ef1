"""The emulator's surfaces: one module per real host or server, each declaring its `SURFACE`.

A surface module builds its answers from the shared `State` (world, key stores, sessions,
clock, statistics, settings) and never imports the server. `SURFACES` is the registry the
server mounts, in this order, each under ``/<group>/``; `ROUTE_GROUPS` are their groups, the
names faults target and statistics count by. `watchdata` is not a surface: www and nvapi
share it.
"""

from __future__ import annotations

from nicosandbox.routes import (
    account,
    channel,
    flapi,
    live,
    live2,
    mpn,
    msgserver,
    nvapi,
    nvcomment,
    snapshot,
    www,
)

SURFACES = (
    msgserver.SURFACE,
    flapi.SURFACE,
    account.SURFACE,
    www.SURFACE,
    nvapi.SURFACE,
    nvcomment.SURFACE,
    snapshot.SURFACE,
    live.SURFACE,
    live2.SURFACE,
    mpn.SURFACE,
    channel.SURFACE,
)
ROUTE_GROUPS = tuple(surface.group for surface in SURFACES)
