"""The one selection point: ``maxlocal serve --runtime NAME`` and ``rig local start --runtime
NAME`` run the driver registered under NAME, say which in ``/api/v1/health`` and ``rig local
status``, and refuse a name nothing is registered under in one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from maxlocal.runtime.driver import names
from tests.support.cli import ROOT, Rig, base_env, single_error_line

REGISTERED = ", ".join(names())


def test_maxlocal_serve_refuses_an_unknown_runtime_naming_the_registered_ones(
    tmp_path: Path,
) -> None:
    serve = [sys.executable, "-m", "maxlocal", "serve", "--data", str(tmp_path / "d")]
    run = subprocess.run(
        [*serve, "--runtime", "nomad"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=base_env(tmp_path / "rig"),
        timeout=60,
    )
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == (
        f"maxlocal: unknown runtime 'nomad': the registered ones are {REGISTERED}\n"
    )
    assert not (tmp_path / "d" / "server.json").exists()


def test_rig_local_start_refuses_an_unknown_runtime_as_a_usage_error(
    rig: Rig, tmp_path: Path
) -> None:
    data = tmp_path / "local-data"
    run = rig("local", "start", "--data", str(data), "--port", "0", "--runtime", "nomad")
    assert run.code == 2, str(run)
    line = single_error_line(run)
    assert line.startswith(f"rig: unknown runtime 'nomad': the registered ones are {REGISTERED} ")
    assert rig("local", "status", "--data", str(data)).code == 1  # nothing was left running


def test_health_and_local_status_show_the_runtime(rig: Rig, tmp_path: Path) -> None:
    data = tmp_path / "local-data"
    try:
        started = rig.ok("local", "start", "--data", str(data), "--port", "0")
        assert "\nruntime: process — processes on this machine" in started.out
        status = rig.ok("local", "status", "--data", str(data), "-o", "json").json()
        assert status["runtime"]["name"] == "process"
        assert status["runtime"]["outlives_platform"] is False
        table = rig.ok("local", "status", "--data", str(data)).out
        assert "\nRuntime:    process — processes on this machine" in table, table
        response = httpx.get(f"{status['url']}/api/v1/health", timeout=10, trust_env=False)
        assert response.json()["runtime"] == status["runtime"]
    finally:
        rig("local", "stop", "--data", str(data))
