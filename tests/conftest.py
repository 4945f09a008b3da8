from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.platform import Platform, PlatformFactory


@pytest.fixture
def platform_factory(tmp_path: Path) -> Iterator[PlatformFactory]:
    """Start maxlocal servers with extra options: ``platform_factory(access_ttl=1)``."""
    factory = PlatformFactory(tmp_path)
    yield factory
    factory.stop_all()


@pytest.fixture
def platform(platform_factory: PlatformFactory) -> Platform:
    """A maxlocal server, stopped at the end of the test."""
    return platform_factory()


# The `rig` runner and logged-in runners (tests/support/cli.py).
from tests.support.cli import logged_in, make_rig, rig, second_user  # noqa: E402, F401
