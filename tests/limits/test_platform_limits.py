"""Limits and bounds seen through the platform and rig: an app over its memory is killed by
the kernel, restarted, and `rig status`/`rig logs` say why; old builds are pruned and a
rollback to one says so; disk used is shown; health and `rig local status` say limits are on."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.conftest import wait_for
from tests.support.cli import Rig
from tests.support.platform import Platform, PlatformFactory

PY = "python3"  # the release's own Python: a sandboxed app cannot see the test run's
HOG = "import time\ntime.sleep(2)\nx = bytearray(300 * 1024 * 1024)\ntime.sleep(60)\n"


@pytest.fixture
def platform(platform_factory: PlatformFactory) -> Platform:
    return platform_factory(keep_releases=2, health_timeout=150)


def source(root: Path, processes: dict[str, str], resources: str = "", **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    table = "".join(f"{name} = {json.dumps(command)}\n" for name, command in processes.items())
    toml = f'builder = "none"\n[processes]\n{table}'
    (root / "rig.toml").write_text(toml + (f"[resources]\n{resources}" if resources else ""))
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def new_app(rig: Rig) -> tuple[str, str]:
    network = f"n{uuid.uuid4().hex[:8]}"
    rig.ok("create", "network", network)
    rig.ok("create", "app", "api", "--network", network)
    return network, "api"


def status(rig: Rig, network: str, app: str) -> dict[str, Any]:
    return dict(rig.ok("status", "app", app, "--network", network, "-o", "json").json())


def test_an_app_over_its_memory_is_killed_restarted_and_said_so(
    platform: Platform, logged_in: Rig, tmp_path: Path
) -> None:
    rig = logged_in
    network, app = new_app(rig)
    src = source(
        tmp_path / "hog", {"worker": f"{PY} hog.py"}, 'memory = "48M"\n', **{"hog.py": HOG}
    )
    rig.ok("deploy", str(src), "--app", app, "--network", network)

    wait_for(lambda: status(rig, network, app)["oom_kills"] >= 1, 60)
    figures = status(rig, network, app)
    assert figures["limits"] == {
        "memory": 48 * 1024 * 1024,
        "processes": 256,
        "cpu": 1.0,
        "disk": 4 * 1024**3,
    }
    assert figures["last_exit"] == "worker was killed: out of memory (limit 48 MiB)"
    assert figures["restarts"] >= 1

    shown = rig.ok("status", "app", app, "--network", network).out
    assert "worker was killed: out of memory (limit 48 MiB)" in shown
    assert "memory 48.0 MiB, 256 processes, 1 CPU, disk 4.0 GiB" in shown
    logs = rig.ok("logs", "app", app, "--network", network).out
    assert "worker was killed: out of memory (limit 48 MiB); restarting in" in logs
    # restarted: the next one runs (and is killed in its turn)
    wait_for(lambda: status(rig, network, app)["restarts"] >= 2, 60)


def test_a_fork_bomb_in_an_exec_session_stops_at_the_apps_process_limit(
    platform: Platform, logged_in: Rig, tmp_path: Path
) -> None:
    rig = logged_in
    network, app = new_app(rig)
    src = source(tmp_path / "app", {"worker": "sleep 1000"}, "processes = 24\n")
    rig.ok("deploy", str(src), "--app", app, "--network", network)
    bomb = "b() { sleep 0.3; b & b & wait; }; b & sleep 3; ps -e -o pid= | wc -l; kill 0"
    run = rig("command", "--app", app, "--network", network, bomb)
    assert "fork" in run.err.lower() or "resource temporarily unavailable" in run.err.lower()
    # and the platform is fine
    assert httpx.get(f"{platform.url}/api/v1/health", trust_env=False).status_code == 200


def test_old_builds_are_pruned_a_rollback_to_one_says_so_and_disk_use_is_shown(
    platform: Platform, logged_in: Rig, tmp_path: Path
) -> None:
    rig = logged_in
    network, app = new_app(rig)
    for version in range(1, 5):
        src = source(tmp_path / f"v{version}", {"worker": "sleep 1000"}, VERSION=str(version))
        (src / "data.bin").write_bytes(b"x" * 1024 * 1024)
        rig.ok("deploy", str(src), "--app", app, "--network", network)
    releases = platform.data_dir / "releases" / network / app
    assert sorted(p.name for p in releases.iterdir()) == ["3", "4"]
    artifacts = platform.data_dir / "artifacts" / network / app
    assert sorted(p.name for p in artifacts.iterdir()) == ["3.tar.gz", "4.tar.gz"]

    refused = rig("rollback", "--app", app, "--network", network, "--to", "1")
    assert refused.code != 0
    assert "release 1 of app 'api' was pruned" in refused.err
    assert "last 2 deploys" in refused.err
    rig.ok("rollback", "--app", app, "--network", network, "--to", "3")
    logs = rig.ok("logs", "app", app, "--network", network).out
    assert "release 1 pruned: the builds of the last 2 deploys are kept" in logs

    figures = status(rig, network, app)
    assert 2 * 1024 * 1024 <= figures["disk_bytes"] < 64 * 1024 * 1024
    shown = rig.ok("status", "app", app, "--network", network).out
    assert re.search(r"^Disk: +\d+\.\d MiB$", shown, re.MULTILINE), shown


def test_health_and_local_status_say_limits_are_on(platform: Platform, rig: Rig) -> None:
    health = httpx.get(f"{platform.url}/api/v1/health", trust_env=False).json()
    assert health["limits"]["mode"] == "cgroup v1" or health["limits"]["mode"] == "cgroup v2"
    assert health["limits"]["defaults"] == {
        "memory": 512 * 1024 * 1024,
        "processes": 256,
        "cpu": 1.0,
        "disk": 4 * 1024**3,
    }
    defaults = "memory 512 MiB, 256 processes, 1 CPU, disk 4 GiB"
    shown = rig.ok("local", "status", "--data", str(platform.data_dir)).out
    assert "Limits:     cgroup v" in shown and defaults in shown
    logged = re.search(
        r"limits: (cgroup v\d) — per app by default: (.*) \((.*)\)$", platform.log(), re.M
    )
    assert logged and logged.group(2) == defaults, platform.log()[-2000:]
    assert logged.group(3) == health["limits"]["detail"]


def test_limits_off_says_so(platform_factory: PlatformFactory, rig: Rig) -> None:
    off = platform_factory(limits="off")
    health = httpx.get(f"{off.url}/api/v1/health", trust_env=False).json()
    assert health["limits"]["mode"] == "off"
    shown = rig.ok("local", "status", "--data", str(off.data_dir)).out
    assert "Limits:     off — turned off (--limits off)" in shown
    assert "limits: off — turned off (--limits off)\n" in off.log()
