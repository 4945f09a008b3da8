"""login, logout, whoami, contexts, credential stores and token refresh, against a real platform."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

from tests.support.cli import Rig, single_error_line
from tests.support.platform import Platform, PlatformFactory


def test_login_with_password_stores_a_private_session(
    rig: Rig, shared_platform: Platform, new_login: dict[str, str]
) -> None:
    creds = new_login
    run = rig.login(shared_platform, creds["email"], creds["password"])
    assert f"as {creds['email']}" in run.out
    assert "credentials.json (mode 0600)" in run.out
    assert stat.S_IMODE(rig.config_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((rig.config_dir / "credentials.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((rig.config_dir / "contexts.json").stat().st_mode) == 0o600
    contexts = rig.contexts()
    assert contexts["current"] == "default"
    assert contexts["contexts"]["default"] == {
        "api": shared_platform.url,
        "user": creds["email"],
        "store": "file",
    }
    assert creds["password"] not in (rig.config_dir / "credentials.json").read_text()
    assert "access_token" in rig.credentials()["default"]


def test_login_json_and_whoami(
    rig: Rig, shared_platform: Platform, new_login: dict[str, str]
) -> None:
    creds = new_login
    run = rig.ok(
        "login", "--api", shared_platform.url, "--email", creds["email"], "--password-stdin",
        "-o", "json", "--context", "work", input=creds["password"],
    )  # fmt: skip
    assert run.json() == {
        "context": "work",
        "api": shared_platform.url,
        "user": creds["email"],
        "store": "file",
    }
    me = rig.ok("whoami", "-o", "json").json()
    assert me["email"] == creds["email"]
    assert me["context"] == "work"
    assert me["api"] == shared_platform.url
    assert creds["email"] in rig.ok("whoami").out


def test_login_with_api_token_and_rig_token(rig: Rig, shared_platform: Platform) -> None:
    user = shared_platform.add_user("ci@example.com")
    rig.ok("login", "--api", shared_platform.url, "--token", user["token"])
    assert rig.ok("whoami", "-o", "json").json()["email"] == "ci@example.com"
    # RIG_TOKEN both logs in and works directly, with no stored context at all.
    fresh = Rig(rig.config_dir.parent / "fresh")
    env = {"RIG_TOKEN": user["token"], "RIG_API": shared_platform.url}
    me = fresh.ok("whoami", "-o", "json", env=env).json()
    assert me["email"] == "ci@example.com" and me["context"] is None
    assert not (fresh.config_dir / "contexts.json").exists()
    fresh.ok("login", env=env)
    assert fresh.contexts()["current"] == "default"


def test_wrong_password_is_denied(
    rig: Rig, shared_platform: Platform, new_login: dict[str, str]
) -> None:
    creds = new_login
    run = rig(
        "login", "--api", shared_platform.url, "--email", creds["email"], "--password-stdin",
        input="not-the-password\n",
    )  # fmt: skip
    assert run.code == 3
    line = single_error_line(run)
    assert "not-the-password" not in line
    assert not (rig.config_dir / "contexts.json").exists()


def test_commands_without_login(rig: Rig) -> None:
    run = rig("list", "networks")
    assert run.code == 3
    assert "rig login" in single_error_line(run)
    run = rig("whoami", "-o", "json")
    assert run.code == 3
    assert run.error_json()["error"]["code"] == "unauthorized"
    assert run.out == ""


def test_login_without_credentials_off_a_terminal(rig: Rig, shared_platform: Platform) -> None:
    run = rig("login", "--api", shared_platform.url)
    assert run.code == 2
    assert "--password-stdin" in single_error_line(run)
    run = rig("login")
    assert run.code == 2
    assert "--api" in single_error_line(run)


def test_login_to_an_unreachable_platform(rig: Rig) -> None:
    run = rig("login", "--api", "http://127.0.0.1:9", "--token", "mxt_x")
    assert run.code == 6
    line = single_error_line(run)
    assert "http://127.0.0.1:9" in line and "rig local start" in line


def test_unreachable_platform_after_login(logged_in: Rig) -> None:
    assert logged_in.platform is not None
    logged_in.platform.stop()
    run = logged_in("list", "networks")
    assert run.code == 6
    assert logged_in.platform.url in single_error_line(run)
    run = logged_in("list", "apps", "-o", "json")
    assert run.code == 6 and run.error_json()["error"]["code"] == "unreachable"


def test_logout_revokes_and_forgets(logged_in: Rig) -> None:
    refresh_token = logged_in.credentials()["default"]["refresh_token"]
    run = logged_in.ok("logout", "-o", "json")
    assert run.json()[0]["revoked"] is True
    assert "default" not in logged_in.credentials()
    run = logged_in("whoami")
    assert run.code == 3 and "rig login --context default" in single_error_line(run)
    # The revoked refresh token no longer works on the platform.
    assert logged_in.platform is not None
    import httpx

    answer = httpx.post(
        f"{logged_in.platform.url}/api/v1/auth/refresh", json={"refresh_token": refresh_token}
    )
    assert answer.status_code == 401
    # Logging in again needs no --api: the context remembers it.
    password = logged_in.user["password"]
    logged_in.ok("login", "--email", logged_in.user["email"], "--password-stdin", input=password)
    logged_in.ok("whoami")


def test_logout_works_when_the_platform_is_down(logged_in: Rig) -> None:
    assert logged_in.platform is not None
    logged_in.platform.stop()
    run = logged_in.ok("logout")
    assert "unreachable" in run.out
    assert "default" not in logged_in.credentials()


def test_contexts(logged_in: Rig, shared_platform: Platform) -> None:
    user = shared_platform.add_user("other@example.com")
    logged_in.ok(
        "login", "--api", shared_platform.url, "--token", user["token"], "--context", "other"
    )
    rows = logged_in.ok("context", "list", "-o", "json").json()
    assert [(r["name"], r["current"], r["logged_in"]) for r in rows] == [
        ("default", False, True),
        ("other", True, True),
    ]
    assert logged_in.ok("list", "contexts", "-o", "json").json() == rows
    assert "other@example.com" in logged_in.ok("whoami").out
    assert logged_in.user["email"] in logged_in.ok("whoami", "--context", "default").out
    logged_in.ok("context", "use", "default")
    assert logged_in.user["email"] in logged_in.ok("whoami").out
    table = logged_in.ok("context", "list").out
    assert "default" in table and "*" in table
    logged_in.ok("context", "delete", "other", "-o", "json")
    assert [r["name"] for r in logged_in.ok("context", "list", "-o", "json").json()] == ["default"]
    run = logged_in("context", "use", "nope")
    assert run.code == 4 and "rig context list" in single_error_line(run)
    run = logged_in("whoami", "--context", "nope")
    assert run.code == 4


def test_keyring_store(
    rig: Rig, shared_platform: Platform, new_login: dict[str, str], tmp_path: Path
) -> None:
    rig.env.update(
        RIG_CREDENTIAL_STORE="keyring",
        PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
        XDG_DATA_HOME=str(tmp_path / "data-home"),
    )
    creds = new_login
    run = rig.login(shared_platform, creds["email"], creds["password"])
    assert "OS keyring (PlaintextKeyring)" in run.out
    assert rig.contexts()["contexts"]["default"]["store"] == "keyring"
    assert not (rig.config_dir / "credentials.json").exists()
    keyring_file = next((tmp_path / "data-home").rglob("keyring_pass.cfg"))
    assert "[rig]" in keyring_file.read_text()  # service "rig", one entry per context
    rig.ok("whoami")
    rig.ok("logout")
    assert rig("whoami").code == 3


def test_transparent_refresh_before_expiry(rig: Rig, platform_factory: PlatformFactory) -> None:
    platform = platform_factory(access_ttl=1)
    creds = platform.bootstrap()
    rig.login(platform, creds["email"], creds["password"])
    before = rig.credentials()["default"]
    time.sleep(1.2)
    rig.ok("list", "networks")
    after = rig.credentials()["default"]
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]
    rig.ok("list", "networks")


def test_transparent_refresh_on_401(rig: Rig, platform_factory: PlatformFactory) -> None:
    platform = platform_factory(access_ttl=1)
    creds = platform.bootstrap()
    rig.login(platform, creds["email"], creds["password"])
    # Pretend the token is good for an hour: only the platform's 401 tells rig to refresh.
    path = rig.config_dir / "credentials.json"
    stored = json.loads(path.read_text())
    stored["default"]["expires_at"] = time.time() + 3600
    path.write_text(json.dumps(stored))
    time.sleep(1.5)
    run = rig.ok("list", "networks", "-v")
    assert "/auth/refresh -> 200" in run.err
    assert rig.credentials()["default"]["access_token"] != stored["default"]["access_token"]


def test_expired_session_asks_for_login(rig: Rig, platform_factory: PlatformFactory) -> None:
    platform = platform_factory(access_ttl=1, refresh_ttl=2)
    creds = platform.bootstrap()
    rig.login(platform, creds["email"], creds["password"])
    time.sleep(2.5)
    run = rig("list", "networks")
    assert run.code == 3
    line = single_error_line(run)
    assert "expired" in line and "rig login" in line
