from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from maxlocal.runtime.router import HostRouter, Unavailable, parse_host
from tests.support.runtime import serve_asgi

BIG = os.urandom(3 * 1024 * 1024)


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for start in range(0, len(body), 65536):
            self.wfile.write(body[start : start + 65536])

    def do_GET(self) -> None:
        if self.path == "/big":
            self._reply(200, BIG)
            return
        echo = {"method": "GET", "path": self.path, "headers": dict(self.headers.items())}
        self._reply(201, json.dumps(echo).encode(), {"X-Upstream": "yes"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._reply(200, hashlib.sha256(body).hexdigest().encode())


async def platform_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"platform"})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def router() -> Iterator[tuple[HostRouter, int]]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, args=(0.05,), daemon=True).start()
    dead = closed_port()

    def resolve(network: str, app: str) -> int | tuple[int, ...] | Unavailable:
        if network != "shop":
            return Unavailable.unknown(app, network)
        return {
            "api": upstream.server_address[1],
            "down": dead,
            "halfdown": (dead, upstream.server_address[1]),  # one instance died
            "stopped": Unavailable.stopped(app, network),
            "fresh": Unavailable.not_deployed(app, network),
        }.get(app, Unavailable.unknown(app, network))

    host_router = HostRouter(platform_app, resolve)
    with serve_asgi(host_router) as port:
        yield host_router, port
    upstream.shutdown()


def call(port: int, host: str, path: str = "/", **kwargs: Any) -> httpx.Response:
    method = kwargs.pop("method", "GET")
    headers = {"Host": host, **kwargs.pop("headers", {})}
    with httpx.Client(trust_env=False, timeout=10) as client:
        return client.request(method, f"http://127.0.0.1:{port}{path}", headers=headers, **kwargs)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("api.shop.localhost", ("shop", "api")),
        ("API.Shop.localhost:8080", ("shop", "api")),
        ("api.shop.localhost.", ("shop", "api")),
        ("localhost:8080", None),
        ("shop.localhost", None),
        ("a.b.c.localhost", None),
        ("api.shop.example.com", None),
        ("127.0.0.1:8080", None),
        ("[::1]:8080", None),
        (".shop.localhost", None),
        ("", None),
    ],
)
def test_parse_host(host: str, expected: tuple[str, str] | None) -> None:
    assert parse_host(host) == expected


def test_a_refused_connection_is_tried_on_the_next_instance(
    router: tuple[HostRouter, int],
) -> None:
    """Nothing reached the dead instance, so even a POST (its body unread yet) goes on."""
    _, port = router
    assert call(port, "halfdown.shop.localhost", "/x").status_code == 201
    body = os.urandom(200_000)
    response = call(port, "halfdown.shop.localhost", "/up", method="POST", content=body)
    assert response.text == hashlib.sha256(body).hexdigest()


def test_other_hosts_reach_the_platform(router: tuple[HostRouter, int]) -> None:
    _, port = router
    for host in ("localhost", f"127.0.0.1:{port}", "shop.localhost", "x.y.z.localhost"):
        assert call(port, host).text == "platform"


def test_proxies_path_query_and_headers(router: tuple[HostRouter, int]) -> None:
    _, port = router
    host = f"api.shop.localhost:{port}"
    response = call(port, host, "/a%20b/c?x=1&y=%2F", headers={"X-Custom": "v"})
    assert response.status_code == 201
    assert response.headers["x-upstream"] == "yes"
    echo = response.json()
    assert echo["path"] == "/a%20b/c?x=1&y=%2F"
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    assert headers["host"] == host
    assert headers["x-custom"] == "v"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-host"] == host
    assert headers["x-forwarded-proto"] == "http"


def test_streams_request_and_response_bodies(router: tuple[HostRouter, int]) -> None:
    _, port = router
    body = os.urandom(5 * 1024 * 1024)
    posted = call(port, "api.shop.localhost", "/upload", method="POST", content=body)
    assert posted.text == hashlib.sha256(body).hexdigest()
    assert call(port, "api.shop.localhost", "/big").content == BIG


@pytest.mark.parametrize(
    ("app", "status", "words"),
    [
        ("stopped", 503, "No app is serving at stopped.shop.localhost."),
        ("fresh", 503, "No app is serving at fresh.shop.localhost."),
        ("nope", 503, "No app is serving at nope.shop.localhost."),
        ("down", 502, "The app at down.shop.localhost closed or refused the connection."),
    ],
)
def test_apps_that_cannot_serve(
    router: tuple[HostRouter, int], app: str, status: int, words: str
) -> None:
    _, port = router
    response = call(port, f"{app}.shop.localhost")
    assert response.status_code == status
    assert words in response.text
    assert response.headers["content-type"].startswith("text/plain")


def test_counts_requests_served_per_app(router: tuple[HostRouter, int]) -> None:
    host_router, port = router
    before = host_router.served[("shop", "api")]
    for _ in range(3):
        call(port, "api.shop.localhost")
    call(port, "down.shop.localhost")
    assert host_router.served[("shop", "api")] == before + 3
    assert host_router.served[("shop", "down")] == 0
