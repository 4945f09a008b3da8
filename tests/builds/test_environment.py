"""The environment a tenant process gets is the platform's to make: the same for the same app
whether the platform was started from an activated venv, with an operator's HOME and PATH,
or from a bare shell; and never the platform's own Python."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builds.conftest import BUILD_HEALTH_TIMEOUT, tenant_of
from tests.deploy.conftest import routed
from tests.support.platform import Platform, PlatformFactory

APP = {
    "Procfile": "web: python3 -m http.server --bind 127.0.0.1 $PORT\n",
    "index.html": "<h1>hello</h1>\n",
}
SHOW = "env | sort; echo which=$(which python3); python3 -c 'import sys; print(sys.prefix)'"
VENV = Path(sys.prefix)


def started(factory: PlatformFactory, cache: Path, environ: dict[str, str]) -> Platform:
    """A platform whose own process has exactly ``environ`` (plus PYTHONPATH to find rig)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        return factory(health_timeout=BUILD_HEALTH_TIMEOUT, cache=cache)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def platforms(tmp_path: Path, build_cache: Path) -> Iterator[list[Platform]]:
    factory = PlatformFactory(tmp_path)
    operator = tmp_path / "operator-home"
    operator.mkdir()
    activated = {
        "VIRTUAL_ENV": str(VENV),
        "PATH": f"{VENV / 'bin'}:/opt/operator/bin:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(operator),
        "LANG": "de_DE.UTF-8",
        "OPERATOR_TOKEN": "s3cr3t-of-the-operator",
        "PYTHONPATH": "/opt/operator/lib",
    }
    plain = {"PATH": "/usr/bin:/bin"}
    yield [started(factory, build_cache, activated), started(factory, build_cache, plain)]
    factory.stop_all()


def normalised(output: str, platform: Platform, network: str) -> list[str]:
    """The lines, with the platform's data directory, marker and network made neutral."""
    lines = output.replace(str(platform.data_dir), "<data>").replace(network, "<net>").splitlines()
    return [line for line in lines if not line.startswith("MAXLOCAL_PLATFORM=")]


def test_the_same_app_gets_the_same_environment_however_the_platform_was_started(
    platforms: list[Platform], tmp_path: Path
) -> None:
    seen = []
    for number, platform in enumerate(platforms):
        tenant = tenant_of(platform, tmp_path / f"rig{number}")
        network, app = tenant.new_app("hello")
        release = tenant.deploy(network, app, APP)
        assert release["status"] == "active", release
        assert "hello" in routed(platform, network, app).text
        run = tenant.command(network, app, SHOW)
        assert run.code == 0, str(run)
        seen.append(normalised(run.out, platform, network))
    assert seen[0] == seen[1]
    env = dict(line.split("=", 1) for line in seen[0] if "=" in line)
    assert "VIRTUAL_ENV" not in env or not env["VIRTUAL_ENV"].startswith(str(VENV))
    assert "OPERATOR_TOKEN" not in env and "PYTHONPATH" not in env
    assert env["HOME"] == "<data>/homes/apps/<net>/hello"
    assert env["LANG"] == "C.UTF-8"
    assert "/opt/operator" not in env["PATH"] and str(VENV) not in env["PATH"]
    assert not env["which"].startswith(str(VENV))
    assert seen[0][-1] != str(VENV) and not seen[0][-1].startswith(str(VENV))
