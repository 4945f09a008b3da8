"""Fixtures the one-shot command tests share."""

from __future__ import annotations

import pytest

from tests.support.cli import Rig


@pytest.fixture
def hello(logged_in: Rig) -> Rig:
    """``logged_in`` with network ``shop`` and app ``hello`` in it (no release)."""
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "app", "hello", "--network", "shop")
    return logged_in
