"""Issue 15, finding 10: the API answers only to the platform's own names.

DNS rebinding: a page on ``evil.example`` whose name the attacker then points at 127.0.0.1 is
the same origin to the browser, so it could call the endpoints that need no token (sign-in,
device login, metrics) and read the answers. Its requests carry ``Host: evil.example``: before
the fix they were served; now they are refused with 421 before any endpoint runs.
"""

from __future__ import annotations

import socket

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.cli import unique_email
from tests.support.platform import Platform

REBOUND = "evil.example"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/auth/login", {"json": {"email": "a@b.c", "password": "guess"}}),
        ("POST", "/api/v1/auth/device", {"json": {}}),
        ("GET", "/device", {}),
        ("GET", "/metrics", {}),
        ("GET", "/api/v1/health", {}),
    ],
)
def test_a_rebound_host_is_refused(
    shared_platform: Platform, method: str, path: str, body: dict[str, object]
) -> None:
    host = f"{REBOUND}:{shared_platform.port}"
    answer = httpx.request(
        method, shared_platform.url + path, headers={"Host": host}, timeout=30, **body
    )
    assert answer.status_code == 421, f"{method} {path} for {host}: {answer.status_code}"
    error = answer.json()["error"]
    assert error["code"] == "misdirected" and REBOUND in error["message"]
    assert "localhost" in error["hint"]


def test_a_rebound_host_cannot_open_the_socket(shared_platform: Platform) -> None:
    """The browser's socket to the rebound name: Host is that name, the address loopback."""
    user = shared_platform.add_user(unique_email("rebound"))
    url = f"ws://{REBOUND}:{shared_platform.port}/socket/websocket?vsn=2.0.0&token={user['token']}"
    sock = socket.create_connection(("127.0.0.1", shared_platform.port), timeout=15)
    with pytest.raises(InvalidStatus) as refused:
        connect(url, sock=sock, open_timeout=15).close()
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST."])
def test_the_platforms_own_names_are_served(shared_platform: Platform, name: str) -> None:
    headers = {"Host": f"{name}:{shared_platform.port}"}
    answer = httpx.get(f"{shared_platform.url}/api/v1/health", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text


def test_app_names_still_go_to_the_router(shared_platform: Platform) -> None:
    headers = {"Host": f"api.shop.localhost:{shared_platform.port}"}
    answer = httpx.get(f"{shared_platform.url}/", headers=headers, timeout=30)
    assert answer.status_code in (404, 502, 503), answer.text
    assert "misdirected" not in answer.text
