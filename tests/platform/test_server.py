import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.platform.conftest import api_client, error_of
from tests.support.platform import ROOT, Platform, PlatformFactory


def maxlocal(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "maxlocal", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_server_file_and_permissions(platform: Platform) -> None:
    info = json.loads((platform.data_dir / "server.json").read_text())
    assert set(info) == {
        "pid", "url", "port", "started_at", "isolation", "limits", "router", "runtime"
    }  # fmt: skip
    assert info["pid"] == platform.process.pid
    assert info["url"] == f"http://127.0.0.1:{info['port']}"
    assert info["started_at"].endswith("Z")
    assert mode(platform.data_dir) == 0o700
    for name in ("server.json", "bootstrap.json", "secrets.key", "digest.key", "maxlocal.db"):
        assert mode(platform.data_dir / name) == 0o600, name
    bootstrap = json.loads((platform.data_dir / "bootstrap.json").read_text())
    assert bootstrap == platform.bootstrap()
    assert bootstrap["email"] == "admin@max.local"
    assert len(bootstrap["password"]) >= 16


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_it_cleanly(platform: Platform, sig: signal.Signals) -> None:
    assert platform.process is not None
    platform.process.send_signal(sig)
    assert platform.process.wait(10) == 0
    assert not (platform.data_dir / "server.json").exists()
    assert "Traceback" not in platform.log()


def test_restart_keeps_everything(platform: Platform) -> None:
    with api_client(platform) as anon:
        session = anon.post("/auth/login", json=platform.bootstrap()).json()
    token = platform.add_user("carol@example.com")["token"]
    with api_client(platform, token) as carol:
        carol.post("/networks", json={"name": "keep"})
        carol.post("/networks/keep/apps", json={"name": "api"})
        carol.patch("/networks/keep/vars", json={"vars": {"A": "1"}})
        digest = carol.patch("/networks/keep/secrets", json={"secrets": {"S": "v"}}).json()
    before = platform.port
    platform.restart()
    assert platform.port == before
    with api_client(platform, token) as carol:
        details = carol.get("/networks/keep").json()
        assert [a["name"] for a in details["apps"]] == ["api"]
        assert details["vars"][0]["value"] == "1"
        assert details["secrets"] == digest
        # the same value still gives the same digest: the keys survived too
        assert (
            carol.patch("/networks/keep/secrets", json={"secrets": {"S": "v"}}).json()[0]["digest"]
            == digest[0]["digest"]
        )
    with api_client(platform, session["access_token"]) as admin:
        assert admin.get("/me").json()["email"] == "admin@max.local"
    with api_client(platform) as anon:
        refreshed = anon.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert refreshed.status_code == 200
    assert platform.bootstrap() == json.loads((platform.data_dir / "bootstrap.json").read_text())


def test_logs_hold_no_secrets(platform: Platform) -> None:
    creds = platform.bootstrap()
    with api_client(platform) as anon:
        session = anon.post("/auth/login", json=creds).json()
        anon.post("/auth/login", json={**creds, "password": "wrong-password-xyz"})
    with api_client(platform, session["access_token"]) as admin:
        admin.post("/networks", json={"name": "logs"})
        admin.patch("/networks/logs/secrets", json={"secrets": {"S": "secret-canary-0xabc"}})
        api_token = admin.post("/tokens", json={"name": "t"}).json()["token"]
    platform.stop()
    log = platform.log()
    assert "/api/v1/networks/logs/secrets" in log
    for value in (
        creds["password"],
        "wrong-password-xyz",
        session["access_token"],
        session["refresh_token"],
        api_token,
        "secret-canary-0xabc",
    ):
        assert value not in log


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "::", "example.com", ""])
def test_non_loopback_hosts_are_refused(tmp_path: Path, host: str) -> None:
    result = maxlocal("serve", "--data", str(tmp_path / "data"), "--host", host, "--port", "0")
    assert result.returncode == 2
    assert "loopback" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()


def test_second_server_on_the_same_data_is_refused(platform: Platform) -> None:
    result = maxlocal("serve", "--data", str(platform.data_dir), "--port", "0")
    assert result.returncode == 5
    assert result.stderr.strip() == (
        f"maxlocal: a maxlocal server is already running for {platform.data_dir.resolve()} "
        f"at {platform.url} (pid {platform.process.pid})"
    )
    assert httpx.get(f"{platform.url}/api/v1/health").status_code == 200
    assert json.loads((platform.data_dir / "server.json").read_text())["pid"] == (
        platform.process.pid
    )


def test_stale_server_file_is_replaced(platform: Platform) -> None:
    platform.stop()
    stale = {"pid": 999_999, "url": "http://127.0.0.1:1", "port": 1, "started_at": "x"}
    (platform.data_dir / "server.json").write_text(json.dumps(stale))
    platform.start()
    assert httpx.get(f"{platform.url}/api/v1/health").status_code == 200


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = maxlocal("serve", "--data", str(tmp_path / "data"), "--port", str(port))
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr


def test_access_ttl_must_be_positive(tmp_path: Path) -> None:
    result = maxlocal("serve", "--data", str(tmp_path / "data"), "--access-ttl", "0")
    assert result.returncode == 2


def test_add_user_command(platform: Platform) -> None:
    result = maxlocal("add-user", "--data", str(platform.data_dir), "dave@example.com")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["email"] == "dave@example.com"
    assert created["token"].startswith("mxt_")
    with api_client(platform, created["token"]) as dave:
        assert dave.get("/me").json()["email"] == "dave@example.com"
        assert [t["name"] for t in dave.get("/tokens").json()] == ["rig local"]
    again = json.loads(
        maxlocal("add-user", "--data", str(platform.data_dir), "dave@example.com").stdout
    )
    assert again["token"] != created["token"]
    bad = maxlocal("add-user", "--data", str(platform.data_dir), "not-an-email")
    assert bad.returncode == 2


def test_added_user_cannot_log_in_with_a_password(platform: Platform) -> None:
    platform.add_user("erin@example.com")
    with api_client(platform) as anon:
        r = anon.post("/auth/login", json={"email": "erin@example.com", "password": ""})
        error_of(r, 401, "unauthorized")


def test_admin_functions_work_before_the_first_start(tmp_path: Path) -> None:
    from maxlocal import admin

    data_dir = tmp_path / "fresh"
    creds = admin.bootstrap_credentials(data_dir)
    assert creds["email"] == "admin@max.local"
    assert admin.bootstrap_credentials(data_dir) == creds
    assert admin.add_user(data_dir, "frank@example.com")["token"].startswith("mxt_")
    assert mode(data_dir) == 0o700


def test_platforms_with_options(platform_factory: PlatformFactory) -> None:
    first = platform_factory(access_ttl=5)
    second = platform_factory()
    assert first.data_dir != second.data_dir
    assert first.port != second.port
    session = httpx.post(f"{first.url}/api/v1/auth/login", json=first.bootstrap()).json()
    assert session["expires_in"] == 5


def test_a_bug_is_a_500_without_details(platform: Platform) -> None:
    token = platform.add_user("gina@example.com")["token"]
    with api_client(platform, token) as gina:
        gina.post("/networks", json={"name": "broken"})
        with sqlite3.connect(platform.data_dir / "maxlocal.db") as db:
            db.execute("DROP TABLE env_entries")
        response = gina.get("/networks/broken/vars")
        error_of(response, 500, "internal")
        assert "Traceback" not in response.text
        assert "env_entries" not in response.text
        assert gina.get("/networks").status_code == 200
    assert "env_entries" in platform.log()


def test_emails_are_case_insensitive(platform: Platform) -> None:
    created = platform.add_user("Hank@Example.com")
    assert created["email"] == "hank@example.com"
    assert platform.add_user("hank@example.com ")["email"] == "hank@example.com"
    creds = platform.bootstrap()
    with api_client(platform) as anon:
        r = anon.post("/auth/login", json={**creds, "email": "ADMIN@max.local"})
        assert r.json()["user"]["email"] == "admin@max.local"
