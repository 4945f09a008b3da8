"""The environment a tenant process gets is the platform's to make: the same for the same app
whether the platform was started from an activated venv (with an operator's HOME, PATH and
variables), from a bare shell, by ``./quickstart`` (run from that activated venv), or from
the rig shell; and never the platform's own Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from maxlocal.strays import kill_strays, marker_for
from tests.builds.conftest import BUILD_HEALTH_TIMEOUT, tenant_of
from tests.deploy.conftest import routed
from tests.support.cli import ROOT
from tests.support.platform import Platform, PlatformFactory

APP = {
    "Procfile": "web: python3 -m http.server --bind 127.0.0.1 $PORT\n",
    "index.html": "<h1>hello</h1>\n",
}
SHOW = "env | sort; echo which=$(which python3); python3 -c 'import sys; print(sys.prefix)'"
VENV = Path(sys.prefix)
RIG = Path(sys.executable).with_name("rig")


def started(factory: PlatformFactory, cache: Path, environ: dict[str, str]) -> Platform:
    """A platform whose own process has exactly ``environ`` (plus PYTHONPATH to find rig)."""
    return factory(health_timeout=BUILD_HEALTH_TIMEOUT, cache=cache, environ=environ)


def local_env(environ: dict[str, str], root: Path) -> dict[str, str]:
    """``environ`` for a ``rig`` that keeps its config and local platform under ``root``."""
    return {**environ, "RIG_CONFIG_DIR": str(root / "config"), "RIG_LOCAL_DATA": str(root / "data")}


def local_platform(root: Path) -> Platform:
    """The platform ``rig local start`` started in ``root``."""
    platform = Platform(root / "data")
    info = json.loads((root / "data" / "server.json").read_text())
    platform.port, platform.url = int(info["port"]), str(info["url"])
    return platform


def by_quickstart(root: Path, environ: dict[str, str]) -> Platform:
    """A platform started by ``./quickstart`` itself (its bootstrap, then ``rig local
    start``), with one change as in the getting-started test: a free port instead of the
    default one, so that it never collides with another platform. ``--version`` makes
    the rig it opens at the end exit instead of opening the shell."""
    script = (ROOT / "quickstart").read_text()
    assert script.count("rig local start\n") == 1
    script = script.replace("rig local start\n", "rig local start --port 0\n")
    run = subprocess.run(
        ["bash", "-c", script, "quickstart", "--version"], cwd=ROOT,
        env=local_env(environ, root), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Max platform started at " in run.stdout, run.stdout
    assert run.stdout.splitlines()[-1].startswith("rig "), run.stdout  # the rig it opened
    return local_platform(root)


def by_the_rig_shell(root: Path, environ: dict[str, str]) -> Platform:
    """A platform started from the rig shell, in a pseudo-terminal: ``local start``."""
    shell = pexpect.spawn(
        str(RIG), env=local_env(environ, root), encoding="utf-8", timeout=120,
        dimensions=(30, 140),
    )  # fmt: skip
    shell.expect_exact("rig>")
    shell.sendline("local start --port 0")
    shell.expect_exact("rig local>")
    shell.sendline("exit")
    shell.expect(pexpect.EOF)
    return local_platform(root)


def stop_local(root: Path, environ: dict[str, str]) -> None:
    """Stop the platform ``rig local start`` started in ``root`` (if it did), and its apps."""
    subprocess.run(
        [str(RIG), "local", "stop"], env=local_env(environ, root), capture_output=True,
        timeout=60,
    )  # fmt: skip
    kill_strays(marker_for(root / "data"))


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
    locals_ = [tmp_path / "quickstart", tmp_path / "shell"]
    try:
        yield [
            started(factory, build_cache, activated),
            started(factory, build_cache, plain),
            by_quickstart(locals_[0], activated),
            by_the_rig_shell(locals_[1], activated),
        ]
    finally:
        factory.stop_all()
        for root in locals_:
            stop_local(root, activated)


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
    assert seen[0] == seen[1] == seen[2] == seen[3]
    env = dict(line.split("=", 1) for line in seen[0] if "=" in line)
    assert "VIRTUAL_ENV" not in env or not env["VIRTUAL_ENV"].startswith(str(VENV))
    assert "OPERATOR_TOKEN" not in env and "PYTHONPATH" not in env
    assert env["HOME"] == "<data>/homes/apps/<net>/hello"
    assert env["LANG"] == "C.UTF-8"
    assert "/opt/operator" not in env["PATH"] and str(VENV) not in env["PATH"]
    assert not env["which"].startswith(str(VENV))
    assert seen[0][-1] != str(VENV) and not seen[0][-1].startswith(str(VENV))
