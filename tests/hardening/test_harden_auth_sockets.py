"""Issue 15, finding 5: a socket lasts no longer than the credential it was opened with.

Before the fix, a socket opened with a token went on after the token was revoked (or the
session logged out, or expired): it joined exec topics and its running commands went on.
Each test performs that on a real platform and checks the socket is closed, the join refused
and the running command's processes gone (its heartbeat file stops changing).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.platform import Platform

NETWORK = "tickers"
# A command that shows it is running: it rewrites a file in its HOME ten times a second.
TICKER = 'while :; do date +%s%N > "$HOME/tick"; sleep 0.1; done'
WAIT = 15.0


class User:
    def __init__(self, platform: Platform, email: str) -> None:
        self.platform = platform
        self.api_token = platform.add_user(email)["token"]
        self.http = httpx.Client(base_url=f"{platform.url}/api/v1", timeout=30)

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.api_token}"}
        return self.http.request(method, path, headers=headers, **kw)

    def exchange(self, token: str | None = None) -> dict[str, Any]:
        """A session obtained with the API token."""
        answer = self.http.post("/auth/token", json={"token": token or self.api_token})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def new_api_token(self) -> tuple[int, str]:
        made = self.call("POST", "/tokens", json={"name": "socket"}).json()
        return int(made["id"]), str(made["token"])


@pytest.fixture
def user(shared_platform: Platform) -> Iterator[User]:
    from tests.support.cli import unique_email

    person = User(shared_platform, unique_email("sockets"))
    assert person.call("POST", "/networks", json={"name": NETWORK}).status_code == 201
    yield person
    person.http.close()


def open_socket(platform: Platform, token: str) -> ClientConnection:
    url = f"ws://127.0.0.1:{platform.port}/socket/websocket?vsn=2.0.0&token={token}"
    return connect(url, open_timeout=WAIT)


def join(ws: ClientConnection, topic: str, params: dict[str, Any], ref: int) -> dict[str, Any]:
    """The reply to a join of ``topic`` (other frames skipped)."""
    ws.send(json.dumps([str(ref), str(ref), topic, "phx_join", params]))
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        _, reply_ref, got, event, payload = json.loads(ws.recv(timeout=WAIT))
        if got == topic and event == "phx_reply" and reply_ref == str(ref):
            return dict(payload)
    raise AssertionError(f"no reply to the join of {topic}")


def closed_code(ws: ClientConnection, within: float = WAIT) -> int | None:
    """The close code once the platform closes the socket; None if it stays open."""
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(deadline - time.monotonic(), 0.01))
    except TimeoutError:
        return None
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else -1
    return None


def tick_file(platform: Platform) -> Path:
    """The ticker's file, none yet."""
    tick = platform.data_dir / "homes" / "networks" / NETWORK / "tick"
    tick.unlink(missing_ok=True)
    return tick


def start_ticker(platform: Platform, ws: ClientConnection) -> Path:
    """Join an exec topic running the ticker; its file once it ticks."""
    tick = tick_file(platform)
    reply = join(ws, f"exec:network:{NETWORK}", {"kind": "command", "cmd": TICKER}, 1)
    assert reply["status"] == "ok", reply
    deadline = time.monotonic() + WAIT
    while not tick.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tick.exists(), "the command never ran"
    return tick


def still_ticking(tick: Path) -> bool:
    first = tick.read_text()
    time.sleep(1.5)
    return tick.read_text() != first


def assert_ended(user: User, ws: ClientConnection, tick: Path) -> None:
    code = closed_code(ws)
    assert code == 1008, f"the socket was not closed by the platform (close code {code})"
    assert not still_ticking(tick), "the command opened on the socket still runs"
    fresh = user.exchange(user.new_api_token()[1])["access_token"]
    assert user.call("GET", "/sessions", token=fresh).json() == []


def test_revoking_the_api_token_ends_its_socket_and_running_command(user: User) -> None:
    token_id, token = user.new_api_token()
    with open_socket(user.platform, token) as ws:
        tick = start_ticker(user.platform, ws)
        assert user.call("DELETE", f"/tokens/{token_id}").status_code == 204
        assert_ended(user, ws, tick)


def test_a_socket_of_a_session_from_a_revoked_api_token_cannot_join(user: User) -> None:
    token_id, token = user.new_api_token()
    access = user.exchange(token)["access_token"]
    tick = tick_file(user.platform)
    with open_socket(user.platform, access) as ws:
        assert join(ws, "status:user", {}, 1)["status"] == "ok"
        assert user.call("DELETE", f"/tokens/{token_id}").status_code == 204
        time.sleep(0.5)  # however the platform hears of it
        try:
            reply = join(ws, f"exec:network:{NETWORK}", {"kind": "command", "cmd": TICKER}, 2)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1008
        else:
            raise AssertionError(f"a revoked session's socket joined an exec topic: {reply}")
    time.sleep(0.5)
    assert not tick.exists(), "the revoked session's command ran"


def test_logging_out_ends_the_sessions_socket_and_running_command(user: User) -> None:
    session = user.exchange()
    with open_socket(user.platform, session["access_token"]) as ws:
        tick = start_ticker(user.platform, ws)
        logout = user.http.post("/auth/logout", json={"refresh_token": session["refresh_token"]})
        assert logout.status_code == 204
        assert_ended(user, ws, tick)


def test_a_socket_ends_with_its_session(platform_factory: Any) -> None:
    """A session whose refresh token expires (here after 4 s) ends its socket then; one that
    is refreshed meanwhile goes on."""
    from tests.support.cli import unique_email

    platform = platform_factory(access_ttl=3, refresh_ttl=4)
    person = User(platform, unique_email("expiring"))
    assert person.call("POST", "/networks", json={"name": NETWORK}).status_code == 201
    session = person.exchange()
    with open_socket(platform, session["access_token"]) as ws:
        tick = start_ticker(platform, ws)
        assert_ended(person, ws, tick)

    kept = person.exchange()
    with open_socket(platform, kept["access_token"]) as kept_ws:
        assert join(kept_ws, "status:user", {}, 1)["status"] == "ok"
        time.sleep(2)
        refreshed = person.http.post("/auth/refresh", json={"refresh_token": kept["refresh_token"]})
        assert refreshed.status_code == 200
        assert closed_code(kept_ws, within=3) is None, "a refreshed session's socket was closed"
