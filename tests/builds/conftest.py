"""Builds against a real platform: apps as trees of files, deployed through the API, and
``rig command`` through the real client.

The package managers' download caches are shared by every platform of the run
(``maxlocal serve --cache``), so each package is downloaded once per run."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from maxlocal.builders.plan import make_plan
from maxlocal.builders.run import execute
from maxlocal.builders.source import DiskSource
from maxlocal.builders.toolbox import Toolbox
from maxlocal.runtime.proc import child_env
from tests.deploy.conftest import Api, archive, new_api
from tests.support.cli import Rig, Run
from tests.support.platform import Platform, PlatformFactory

BUILD_HEALTH_TIMEOUT = 150  # seconds: far beyond any start on a loaded machine
RUN_TIMEOUT = 300  # a first build downloads its packages


@dataclass
class Tenant:
    """A user of a platform, with an API client and a logged-in ``rig``."""

    platform: Platform
    api: Api
    rig: Rig

    def new_app(self, app: str = "web") -> tuple[str, str]:
        return self.api.new_app(app)

    def deploy(self, network: str, app: str, files: dict[str, str | bytes]) -> dict[str, Any]:
        """Upload ``files`` as a release; the release once it is active or failed."""
        response = self.api.upload(network, app, archive(files))
        assert response.status_code == 202, response.text
        return self.api.wait(network, app, response.json()["number"], timeout=RUN_TIMEOUT)

    def deploy_ok(self, network: str, app: str, files: dict[str, str | bytes]) -> dict[str, Any]:
        """Deploy and insist it becomes active; the build log in the message otherwise."""
        release = self.deploy(network, app, files)
        assert release["status"] == "active", (
            release.get("error"),
            self.build_lines(network, app, release["number"]),
        )
        return release

    def command(self, network: str, app: str, command: str) -> Run:
        return self.rig("command", command, "--app", app, "--network", network)

    def build_lines(self, network: str, app: str, release: int) -> list[str]:
        return [r["line"] for r in self.api.logs(network, app, "build", release=release)]


def tenant_of(platform: Platform, config_dir: Path) -> Tenant:
    api = new_api(platform)
    token = api.http.headers["Authorization"].removeprefix("Bearer ")
    rig = Rig(config_dir)
    rig.ok("login", "--api", platform.url, "--token", token)
    return Tenant(platform, api, rig)


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package managers' download caches, shared by the run's platforms."""
    return tmp_path_factory.mktemp("build-cache")


@pytest.fixture(scope="module")
def build_platform(
    tmp_path_factory: pytest.TempPathFactory, build_cache: Path
) -> Iterator[Platform]:
    factory = PlatformFactory(tmp_path_factory.mktemp("builds"))
    yield factory(health_timeout=BUILD_HEALTH_TIMEOUT, cache=build_cache)
    factory.stop_all()


@pytest.fixture
def tenant(build_platform: Platform, tmp_path: Path) -> Iterator[Tenant]:
    user = tenant_of(build_platform, tmp_path / f"rig-{uuid.uuid4().hex[:8]}")
    yield user
    user.api.http.close()


def build(release: Path, tools: Toolbox) -> list[str]:
    """Carry out the plan of the release directory ``release`` for real, outside a platform
    (the platform's own planner and build runner); the platform's lines of its build log."""
    notes: list[str] = []
    plan = make_plan(DiskSource(release), tools)
    execute(
        plan,
        release,
        lambda: child_env({}, release, home=release.parent / "home"),
        lambda stream, line: None,
        notes.append,
    )
    return notes


def freeze() -> bytes:
    """``pip freeze`` of the environment rig itself runs from."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "freeze"], capture_output=True, check=True
    ).stdout


def package_json(**fields: object) -> str:
    return json.dumps({"name": "app", "version": "1.0.0", "private": True, **fields}, indent=2)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "network: drives real package managers against the public registries"
    )
