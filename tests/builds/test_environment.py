"""The environment a tenant process gets is the platform's to make: the same for the same app
whether the platform was started from an activated venv (with an operator's HOME, PATH and
variables), from a bare shell, or by ``rig local start`` as ``./quickstart`` does; and never
the platform's own Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from maxlocal.strays import kill_strays, marker_for
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


def by_rig_local_start(tmp_path: Path, environ: dict[str, str]) -> Platform:
    """A platform started as ``./quickstart`` does: ``.venv/bin/rig local start``, from
    ``environ`` (the rig shell's ``local start`` runs the same code in the shell's process)."""
    data = tmp_path / "local-data"
    rig = Path(sys.executable).with_name("rig")
    env = {**environ, "RIG_CONFIG_DIR": str(tmp_path / "local-config"), "RIG_LOCAL_DATA": str(data)}
    run = subprocess.run(
        [str(rig), "local", "start", "--port", "0"], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    platform = Platform(data)
    info = json.loads((data / "server.json").read_text())
    platform.port, platform.url = int(info["port"]), str(info["url"])
    return platform


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
    local = by_rig_local_start(tmp_path, activated)
    try:
        yield [
            started(factory, build_cache, activated),
            started(factory, build_cache, plain),
            local,
        ]
    finally:
        factory.stop_all()
        subprocess.run(
            [str(Path(sys.executable).with_name("rig")), "local", "stop"],
            env={**activated, "RIG_CONFIG_DIR": str(tmp_path / "local-config"),
                 "RIG_LOCAL_DATA": str(local.data_dir)},
            capture_output=True, timeout=60,
        )  # fmt: skip
        kill_strays(marker_for(local.data_dir))


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
    assert seen[0] == seen[1] == seen[2]
    env = dict(line.split("=", 1) for line in seen[0] if "=" in line)
    assert "VIRTUAL_ENV" not in env or not env["VIRTUAL_ENV"].startswith(str(VENV))
    assert "OPERATOR_TOKEN" not in env and "PYTHONPATH" not in env
    assert env["HOME"] == "<data>/homes/apps/<net>/hello"
    assert env["LANG"] == "C.UTF-8"
    assert "/opt/operator" not in env["PATH"] and str(VENV) not in env["PATH"]
    assert not env["which"].startswith(str(VENV))
    assert seen[0][-1] != str(VENV) and not seen[0][-1].startswith(str(VENV))
