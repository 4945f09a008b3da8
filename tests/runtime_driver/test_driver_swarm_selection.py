"""``--runtime swarm``: said in ``rig local start``/``status`` and health when the engine is
there; when it is not, the platform does not start, in one line with the hint, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from maxlocal.runtime.swarm.driver import remove_platform
from tests.support.cli import ROOT, Rig, base_env, single_error_line

pytestmark = pytest.mark.swarm


def test_maxlocal_serve_without_an_engine_says_so_in_one_line(tmp_path: Path) -> None:
    env = {**base_env(tmp_path / "rig"), "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    serve = [sys.executable, "-m", "maxlocal", "serve", "--data", str(tmp_path / "d")]
    run = subprocess.run(
        [*serve, "--runtime", "swarm", "--port", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert (run.returncode, run.stdout) == (2, ""), run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert lines[0].startswith("maxlocal: --runtime swarm: no Docker engine answers at unix://")
    assert lines[0].endswith(
        "; start one with scripts/docker-up (needs docker.io: scripts/install-system-deps)"
    )
    assert not (tmp_path / "d" / "server.json").exists()


def test_rig_local_start_without_an_engine_is_a_usage_error(rig: Rig, tmp_path: Path) -> None:
    data = tmp_path / "local-data"
    rig.env["DOCKER_HOST"] = f"unix://{tmp_path}/no-docker.sock"
    run = rig("local", "start", "--data", str(data), "--port", "0", "--runtime", "swarm")
    assert run.code == 2, str(run)
    assert "no Docker engine answers" in single_error_line(run)
    assert rig("local", "status", "--data", str(data)).code == 1  # nothing was left running


def test_local_start_and_status_show_the_swarm_runtime(
    rig: Rig, tmp_path: Path, docker_client: object
) -> None:
    data = tmp_path / "local-data"
    try:
        started = rig.ok("local", "start", "--data", str(data), "--port", "0", "--runtime", "swarm")
        assert "\nruntime: swarm — Docker Swarm services on the engine" in started.out
        status = rig.ok("local", "status", "--data", str(data), "-o", "json").json()
        assert status["runtime"]["name"] == "swarm"
        assert status["runtime"]["outlives_platform"] is True
        assert "\nRuntime:    swarm — " in rig.ok("local", "status", "--data", str(data)).out
    finally:
        rig("local", "stop", "--data", str(data))
        remove_platform(data)
