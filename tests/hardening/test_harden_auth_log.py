"""Issue 15, finding 7: no token reaches the platform's log, and the log is its operator's.

Before the fix, the socket's ``?token=`` was written to ``server.log`` (mode 0644) on every
connect, long-lived API tokens included. Here a real ``rig local start`` platform is sent every
form of token where a request line carries it (sockets opened with an API token, a session's
access token and a device login's, the refresh token and device code in a URL, accepted and
refused), then its real log is searched for each value.
"""

from __future__ import annotations

import re
import stat
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.cli import Rig

TOKEN_SHAPE = re.compile(r"mx[atrd]_[A-Za-z0-9_-]{8,}")


def device_session(api: str, email: str, password: str) -> tuple[str, dict[str, str]]:
    """A device login approved on the page: its device code and its session."""
    grant = httpx.post(f"{api}/auth/device", json={}, timeout=30).json()
    page = grant["verification_uri"]
    form = {"code": grant["user_code"], "email": email, "password": password}
    signed_in = httpx.post(page, data=form, timeout=30)
    assert signed_in.status_code == 200, signed_in.text
    fields = dict(re.findall(r'name="(user|confirm)" value="([^"]+)"', signed_in.text))
    if fields:  # the page asks to confirm (a platform from before issue 15 approved at once)
        decision = {"code": grant["user_code"], **fields, "decision": "approve"}
        assert httpx.post(page, data=decision, timeout=30).status_code == 200
    answer = httpx.post(f"{api}/auth/device/token", json={"device_code": grant["device_code"]})
    assert answer.status_code == 200, answer.text
    return grant["device_code"], answer.json()


def socket(url: str, token: str) -> None:
    """Connect with ``token`` (accepted or refused: both are request lines)."""
    ws_url = url.replace("http://", "ws://") + f"/socket/websocket?vsn=2.0.0&token={token}"
    try:
        with connect(ws_url, open_timeout=15) as ws:
            ws.send('["1","1","phoenix","heartbeat",{}]')
            ws.recv(timeout=15)
    except InvalidStatus as refused:
        assert refused.response.status_code == 403


@pytest.fixture
def local(rig: Rig, tmp_path: Path):
    data = tmp_path / "local-data"
    data.mkdir(mode=0o700)
    (data / "server.log").write_text("")
    (data / "server.log").chmod(0o644)  # as an older rig left it
    rig.env["RIG_LOCAL_DATA"] = str(data)
    yield rig, data
    rig("local", "stop")


def test_no_token_reaches_the_server_log(local: tuple[Rig, Path]) -> None:
    from maxlocal.admin import add_user, bootstrap_credentials

    rig, data = local
    url = rig.ok("local", "start", "--port", "0", "-o", "json").json()["url"]
    api = f"{url}/api/v1"
    admin = bootstrap_credentials(data)
    api_token = add_user(data, "tokens@example.com")["token"]
    session = httpx.post(f"{api}/auth/token", json={"token": api_token}, timeout=30).json()
    device_code, device = device_session(api, admin["email"], admin["password"])
    secrets = {
        "API token": api_token,
        "session access token": session["access_token"],
        "session refresh token": session["refresh_token"],
        "device login's access token": device["access_token"],
        "device code": device_code,
    }
    for token in secrets.values():
        socket(url, token)
        httpx.get(f"{api}/me", params={"token": token}, timeout=30)
    time.sleep(0.5)  # the log is written by another process

    log = (data / "server.log").read_text()
    assert "/socket/websocket" in log, "the log has no request lines: nothing was checked"
    leaked = [name for name, value in secrets.items() if value in log]
    assert not leaked, f"in server.log: {', '.join(leaked)}"
    assert not TOKEN_SHAPE.search(log), TOKEN_SHAPE.search(log)
    mode = stat.S_IMODE((data / "server.log").stat().st_mode)
    assert mode == 0o600, f"server.log is {mode:o}"
