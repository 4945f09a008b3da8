"""`rig local`: the embedded platform a newcomer starts, driven through the real rig."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import ROOT, Rig, base_env, single_error_line


@pytest.fixture
def local(rig: Rig, tmp_path: Path):
    """rig with a data dir for `rig local`; stops whatever it started."""
    data = tmp_path / "local-data"
    rig.env["RIG_LOCAL_DATA"] = str(data)
    yield rig, data
    rig("local", "stop")


def test_start_logs_in_and_onboarding_works(local) -> None:
    rig, data = local
    started = rig.ok("local", "start", "--port", "0", "-o", "json").json()
    assert set(started) == {
        *("url", "pid", "data_dir", "context"),
        *("runtime", "isolation", "limits", "router"),
    }
    assert started["runtime"]["name"] == "process"
    assert started["isolation"].startswith(("uid+namespaces (bwrap", "userns (bwrap"))
    assert started["router"].startswith("haproxy — HAProxy ")  # installed by install-system-deps
    assert started["context"] == "local"
    assert started["data_dir"] == str(data.resolve())
    assert started["url"].startswith("http://127.0.0.1:")
    assert rig.contexts()["current"] == "local"

    # The PRD's onboarding steps 2 and 3, as printed there.
    rig.ok("create", "network", "my-project")
    rig.ok("create", "app", "api", "--network", "my-project")
    apps = rig.ok("list", "apps", "-o", "json").json()
    assert [(a["name"], a["network"]) for a in apps] == [("api", "my-project")]
    assert rig.ok("whoami", "-o", "json").json()["email"] == "admin@max.local"


def test_start_is_idempotent_and_status_reports(local) -> None:
    rig, _data = local
    first = rig.ok("local", "start", "--port", "0", "-o", "json").json()
    again = rig.ok("local", "start", "--port", "0")
    assert "already running" in again.out
    assert first["url"] in again.out
    assert "limits: cgroup v" in again.out  # this machine's cgroups are writable (root)
    assert first["limits"]["mode"].startswith("cgroup v")
    status = rig.ok("local", "status", "-o", "json").json()
    assert status["running"] is True
    assert status["limits"] == first["limits"]
    assert status["pid"] == first["pid"]
    assert status["url"] == first["url"]


def test_without_isolation_it_says_one_trust_domain_and_user_add_needs_a_flag(local) -> None:
    rig, _data = local
    started = rig.ok("local", "start", "--port", "0", "--isolation", "none")
    assert "isolation: none — one trust domain (turned off by --isolation none)" in started.out
    assert "Isolation:  none — one trust domain" in rig.ok("local", "status").out
    refused = rig("local", "user", "add", "bob@example.com")
    assert refused.code == 2 and refused.out == ""
    (message,) = refused.err.strip().splitlines()
    assert message.startswith("rig: this platform has no isolation (isolation: none)")
    assert "(hint: " in message and "--single-trust-domain" in message
    added = rig.ok("local", "user", "add", "bob@example.com", "--single-trust-domain", "-o", "json")
    assert added.json()["email"] == "bob@example.com"


def test_stop_then_status_says_not_running(local) -> None:
    rig, data = local
    pid = rig.ok("local", "start", "--port", "0", "-o", "json").json()["pid"]
    stopped = rig.ok("local", "stop", "-o", "json").json()
    assert stopped == {
        "stopped": True,
        "running": False,
        "pid": pid,
        "data_dir": str(data.resolve()),
    }
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    status = rig("local", "status", "-o", "json")
    assert status.code == 1
    assert status.json()["running"] is False
    assert "not running" in rig("local", "status").out.lower()
    # stopping again is harmless
    assert rig.ok("local", "stop", "-o", "json").json()["stopped"] is False


def test_data_survives_a_restart(local) -> None:
    rig, _data = local
    rig.ok("local", "start", "--port", "0")
    rig.ok("create", "network", "kept")
    rig.ok("create", "secret", "TOKEN", "--network", "kept", input="s3cret-value\n")
    rig.ok("local", "stop")
    rig.ok("local", "start", "--port", "0")
    assert [n["name"] for n in rig.ok("list", "networks", "-o", "json").json()] == ["kept"]
    secrets = rig.ok("list", "secrets", "--network", "kept", "-o", "json").json()
    assert [s["key"] for s in secrets] == ["TOKEN"]


def test_stop_status_and_user_add_find_the_platform_last_started(rig: Rig, tmp_path: Path) -> None:
    """Started with --data and no $RIG_LOCAL_DATA: status, user add and stop find that
    platform without being told the directory again; $RIG_LOCAL_DATA still comes first."""
    rig.env["XDG_DATA_HOME"] = str(tmp_path / "xdg")  # the default, out of the user's home
    data = (tmp_path / "elsewhere").resolve()
    started = rig.ok("local", "start", "--port", "0", "--data", str(data), "-o", "json").json()
    try:
        status = rig.ok("local", "status", "-o", "json").json()
        assert (status["running"], status["pid"]) == (True, started["pid"])
        assert status["data_dir"] == str(data)
        added = rig.ok("local", "user", "add", "dev@example.com", "-o", "json").json()
        assert added["email"] == "dev@example.com"
        stopped = rig.ok("local", "stop", "-o", "json").json()
        assert (stopped["stopped"], stopped["pid"]) == (True, started["pid"])
    finally:
        rig("local", "stop", "--data", str(data))
    assert f"data {data}" in rig("local", "status").out
    rig.env["RIG_LOCAL_DATA"] = str(tmp_path / "from-env")
    assert rig("local", "status", "-o", "json").json()["data_dir"] == str(
        (tmp_path / "from-env").resolve()
    )


def test_a_busy_port_fails_with_a_hint(local) -> None:
    rig, _data = local
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = rig("local", "start", "--port", str(port))
    line = single_error_line(run)
    assert run.code == 1
    assert "--port" in line
    assert rig("local", "status").code == 1


def test_invalid_port_is_a_usage_error(local) -> None:
    rig, _ = local
    run = rig("local", "start", "--port", "70000")
    single_error_line(run)
    assert run.code == 2


def test_user_add_gives_a_token_that_logs_in(local, make_rig) -> None:
    rig, _data = local
    url = rig.ok("local", "start", "--port", "0", "-o", "json").json()["url"]
    rig.ok("create", "network", "admins-net")
    created = rig.ok("local", "user", "add", "dev@example.com", "-o", "json").json()
    assert created["email"] == "dev@example.com"
    assert created["token"].startswith("mxt_")

    dev = make_rig()
    dev.ok("login", "--api", url, "--token", created["token"])
    assert dev.ok("whoami", "-o", "json").json()["email"] == "dev@example.com"
    assert dev.ok("list", "networks", "-o", "json").json() == []


def test_user_add_before_any_start_is_refused(local) -> None:
    rig, _ = local
    run = rig("local", "user", "add", "dev@example.com")
    assert run.code == 2
    assert "rig local start" in single_error_line(run)


def test_serve_runs_in_the_foreground_and_stops_on_ctrl_c(rig: Rig, tmp_path: Path) -> None:
    data = tmp_path / "served"
    env = base_env(rig.config_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig", "local", "serve", "--port", "0", "--data", str(data)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not (data / "server.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        info = json.loads((data / "server.json").read_text())
        deadline = time.monotonic() + 20
        while rig("whoami").code != 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rig.ok("whoami", "-o", "json").json()["api"] == info["url"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped" in out.lower()
    assert not (data / "server.json").exists()
