from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from maxlocal.runtime.cgroups import Cgroups
from maxlocal.runtime.supervisor import LocalProcessDriver
from tests.support.runtime import Events, quick_driver


@pytest.fixture
def cgroups() -> Iterator[Cgroups]:
    """The machine's cgroups under a parent of this test's own (removed at the end)."""
    found = Cgroups.detect(f"test-{uuid.uuid4().hex[:8]}")
    if not found.enabled:
        pytest.skip(f"cgroups cannot be written here: {found.detail}")
    yield found
    found.close()
    assert all(not parent.exists() for parent in found.parents.values())


@pytest.fixture
def limited(events: Events, cgroups: Cgroups) -> Iterator[LocalProcessDriver]:
    """A driver whose deployments run in cgroups."""
    d = quick_driver(events, health_timeout=20, backoff_cap=1, cgroups=cgroups)
    yield d
    d.close()
