"""Every fault kind the emulator has, on every route group `nico fetch` uses, for both protocols:
the first request to the group fails that way, and the run still stores exactly the truth.

(The 20 % runs, where faults fall anywhere, are in test_fetch_legacy.py and
test_fetch_nvcomment.py; this matrix makes sure no kind and no group is left to chance.)
"""

from __future__ import annotations

import pytest

from nicosandbox import CHANNEL_VIDEO_ID, FAULT_KINDS, SHORT_VIDEO_ID, FaultPlan, expected_comments
from tests.helpers import sorted_truth, stored_comments
from tests.reliability import FAULT_OPTIONS, PROTOCOL_GROUPS

CASES = [
    pytest.param(protocol, group, kind, id=f"{protocol}-{group}-{kind}")
    for protocol, groups in PROTOCOL_GROUPS.items()
    for group in groups
    for kind in FAULT_KINDS
]


@pytest.mark.parametrize(("protocol", "group", "kind"), CASES)
def test_a_fault_of_every_kind_on_every_route_group(
    logged_in, nico, tmp_path, world, protocol, group, kind
):
    # The legacy protocol asks the watch page (www) only for so… ids; a thread key renewed at
    # every request sends nvcomment to nvapi.
    video_id = CHANNEL_VIDEO_ID if protocol == "legacy" and group == "www" else SHORT_VIDEO_ID
    if protocol == "nvcomment":
        logged_in.key_max_uses = 1
    logged_in.faults = FaultPlan(
        rate=1.0, kinds=(kind,), targets=(group,), limit=1, slow_seconds=0.05
    )
    db = tmp_path / "n.db"
    result = nico(
        "fetch", video_id, "--all-history", "--db", db, "--interval", "0", "--backoff", "0",
        "--protocol", protocol, *FAULT_OPTIONS,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert logged_in.stats.fault_kinds[(group, kind)] == 1
    stored = stored_comments(db, video_id)
    if protocol == "nvcomment":
        stored = [c._replace(source=None) for c in stored]
    assert stored == sorted_truth(expected_comments(world, video_id, protocol))
