"""The driver-conformance suite: every registered runtime driver (``maxlocal.runtime.driver``)
runs the same workflows through a real platform (``maxlocal serve --runtime NAME`` in a
subprocess) and the real ``rig``. Registering a driver makes these tests run for it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from maxlocal.runtime.driver import names
from tests.deploy.conftest import HEALTH_TIMEOUT, Api, new_api
from tests.support.cli import Rig
from tests.support.docker import base_image, docker_client
from tests.support.platform import Platform, PlatformFactory

__all__ = ["base_image", "docker_client"]


@pytest.fixture(scope="module", params=names())
def driver_name(request: pytest.FixtureRequest) -> str:
    """A registered driver's name: each test runs once per driver."""
    return str(request.param)


@pytest.fixture(scope="module")
def driver_factory(
    driver_name: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[PlatformFactory]:
    """Starts platforms that run ``driver_name``; all stopped (and their strays killed) after.
    ``swarm`` needs the engine (tests/support/docker.py: skipped with the reason outside CI,
    a failure under CI)."""
    if driver_name == "swarm":
        request.getfixturevalue("docker_client")
    factory = PlatformFactory(tmp_path_factory.mktemp(f"driver-{driver_name}"))
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def driver_platform(driver_name: str, driver_factory: PlatformFactory) -> Platform:
    """One platform per driver, shared by a module's tests (each has a user of its own)."""
    return driver_factory(runtime=driver_name, health_timeout=HEALTH_TIMEOUT)


@pytest.fixture
def driver_api(driver_platform: Platform) -> Iterator[Api]:
    client = new_api(driver_platform)
    yield client
    client.http.close()


def rig_for(api: Api, config_dir: Path) -> Rig:
    """The real ``rig`` as ``api``'s user (``RIG_API`` and ``RIG_TOKEN``)."""
    token = str(api.http.headers["Authorization"]).removeprefix("Bearer ")
    env = {"RIG_API": api.platform.url, "RIG_TOKEN": token}
    return Rig(config_dir / f"rig-{uuid.uuid4().hex[:8]}", env=env, platform=api.platform)
