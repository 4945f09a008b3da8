from __future__ import annotations

import os
import signal
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support import ci
from tests.support.alone import MARKER, lock_dir, turn
from tests.support.platform import Platform, PlatformFactory, PlatformPool

# Fixtures every folder may use come from these modules (see tests/README.md): the `rig`
# runner and logged-in runners, and the runtime driver under test.
pytest_plugins = ["tests.support.cli", "tests.support.runtime"]

# A suite started in the background by a non-interactive shell (`./test &` in a script) gets
# SIGINT ignored, and every rig it starts would inherit that and ignore the Ctrl+C the tests
# send. An ignored signal is the caller's wish for rig, so it is this suite that restores it:
# Python's own handler here means a plain default in each process started from here.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Tests talk to loopback only: no rig started from here asks the index for a newer version
# (rig/update.py; tests/dist/test_dist_update.py turns it back on against its own server).
os.environ.setdefault("RIG_NO_UPDATE_CHECK", "1")

# Property tests assert what is generated, not how fast: on a loaded 2-core machine the
# time to draw an input says nothing about rig, so no deadline and no too_slow check.
settings.register_profile("rig", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("rig")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: runs with no other test at the same time under xdist"
    )
    ci.pytest_configure(config)  # reruns and skips counted, failing the run under CI=true


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Setup, call and teardown under the test's turn (tests/support/alone.py)."""
    with turn(lock_dir(item.config), item.get_closest_marker(MARKER) is not None):
        return (yield)


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


@pytest.fixture(scope="session")
def platform_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformPool]:
    """The platform shared by tests that need only users of their own (``shared_platform``)."""
    pool = PlatformPool(tmp_path_factory.mktemp("pool"))
    yield pool
    pool.close()
