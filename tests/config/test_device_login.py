"""`rig login --device` against a real platform, approved (or not) through its page over HTTP."""

from __future__ import annotations

import re
import subprocess
import time

import httpx

from tests.support.cli import Rig
from tests.support.platform import Platform, PlatformFactory

CODE = re.compile(r"^\s+([B-Z]{4}-[B-Z]{4})$", re.M)


def start_device_login(rig: Rig, platform: Platform) -> tuple[subprocess.Popen[str], str, str]:
    """Start `rig login --device`; return the process, the code and the URL it printed."""
    proc = rig.popen("login", "--device", "--api", platform.url)
    assert proc.stderr is not None
    text = ""
    deadline = time.monotonic() + 20
    while "Waiting for approval" not in text and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        text += line
    match = CODE.search(text)
    assert match, text
    url = re.search(r"open (\S+/device) in a browser", text)
    assert url, text
    return proc, match.group(1), url.group(1)


def approve(url: str, code: str, email: str, password: str, decision: str = "approve") -> str:
    page = httpx.get(url, params={"code": code.lower()}, timeout=10)
    assert page.status_code == 200 and code in page.text
    signed_in = httpx.post(
        url, data={"code": code, "email": email, "password": password}, timeout=10
    )
    fields = dict(re.findall(r'name="(user|confirm)" value="([^"]+)"', signed_in.text))
    if signed_in.status_code != 200 or len(fields) != 2:
        return f"{signed_in.status_code} {signed_in.text}"
    response = httpx.post(url, data={"code": code, **fields, "decision": decision}, timeout=10)
    return f"{response.status_code} {response.text}"


def test_device_login_completes_when_approved(
    shared_platform: Platform, new_login: dict[str, str], rig: Rig
) -> None:
    creds = new_login
    proc, code, url = start_device_login(rig, shared_platform)
    try:
        wrong = approve(url, code, creds["email"], "not the password")
        assert wrong.startswith("401") and "wrong email or password" in wrong
        assert proc.poll() is None
        assert approve(url, code, creds["email"], creds["password"]).startswith("200")
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"as {creds['email']}" in out
    assert rig.ok("whoami", "-o", "json").json()["email"] == creds["email"]
    assert "mxa_" not in out + err
    again = approve(url, code, creds["email"], creds["password"])
    assert again.startswith("400") and "already used" in again


def test_device_login_fails_cleanly_when_the_code_expires(
    platform_factory: PlatformFactory, rig: Rig
) -> None:
    platform = platform_factory(device_code_ttl=3)
    proc, code, url = start_device_login(rig, platform)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("rig: the code expired before it was approved"), err
    assert "rig login --device" in last and "Traceback" not in err
    assert not (rig.config_dir / "credentials.json").exists()
    creds = platform.bootstrap()
    late = approve(url, code, creds["email"], creds["password"])
    assert late.startswith("400") and "expired" in late


def test_denied_and_protocol_answers(
    shared_platform: Platform, new_login: dict[str, str], rig: Rig
) -> None:
    api = f"{shared_platform.url}/api/v1"
    grant = httpx.post(f"{api}/auth/device", json={}, timeout=10).json()
    assert set(grant) >= {"device_code", "user_code", "verification_uri", "expires_in", "interval"}
    poll = {"device_code": grant["device_code"]}
    first = httpx.post(f"{api}/auth/device/token", json=poll, timeout=10)
    assert first.status_code == 428
    assert first.json()["error"]["code"] == "authorization_pending"
    second = httpx.post(f"{api}/auth/device/token", json=poll, timeout=10)
    assert second.json()["error"]["code"] == "slow_down"
    creds = new_login
    denied = approve(grant["verification_uri"], grant["user_code"], creds["email"],
                     creds["password"], "deny")  # fmt: skip
    assert denied.startswith("200") and "denied" in denied
    third = httpx.post(f"{api}/auth/device/token", json=poll, timeout=10)
    assert third.json()["error"]["code"] == "access_denied"
    unknown = httpx.post(f"{api}/auth/device/token", json={"device_code": "mxd_x"}, timeout=10)
    assert unknown.json()["error"]["code"] == "invalid_grant"


def test_plain_login_without_a_browser_suggests_device(shared_platform: Platform, rig: Rig) -> None:
    run = rig("login", "--api", shared_platform.url, env={"CI": "true"})
    assert run.code == 2 and "--device" in run.err, str(run)
