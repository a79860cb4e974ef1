"""A fresh emulator per test (knobs changed freely), on the default world of tests/conftest.py."""

from __future__ import annotations

import pytest

from nicosandbox import Sandbox


@pytest.fixture
def sb(world):
    with Sandbox(world) as sandbox:
        yield sandbox
