"""The standard-library transport against a real loopback server, alone and under ApiClient."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rig.errors import AuthError, ExitCode, NotFoundError, UnreachableError
from rig.transport import wire
from rig.transport.http import ApiClient, Tokens

Reply = tuple[int, dict[str, str], bytes]
Route = Callable[["Handler"], Reply]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def do_GET(self) -> None:
        self._answer()

    do_POST = do_PATCH = do_DELETE = do_GET

    def _answer(self) -> None:
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        status, headers, content = self.server.route(self)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, route: Route, handler: type[Handler] = Handler) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.route = route
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.connections = 0

    def get_request(self) -> Any:
        self.connections += 1
        return super().get_request()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(route: Route, handler: type[Handler] = Handler) -> Server:
        server = Server(route, handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def ok(data: Any, **headers: str) -> Reply:
    return 200, {"Content-Type": "application/json", **headers}, json.dumps(data).encode()


def connection(server: Server, timeout: float = 5.0) -> wire.Connection:
    return wire.Connection(server.url + "/api/v1", timeout=timeout, connect_timeout=5.0)


def test_get_with_params_and_headers_on_one_kept_alive_connection(serve: Any) -> None:
    server = serve(lambda h: ok({"path": h.path}, **{"X-Release": "7"}))
    conn = connection(server)
    params = {"network": "a b", "all": True, "none": None, "tag": ["x", "y"]}
    first = conn.request("GET", "/apps", params=params, headers={"Authorization": "Bearer t"})
    second = conn.request("GET", "/apps")
    conn.close()
    assert first.status_code == 200 and first.json()["path"].startswith("/api/v1/apps?")
    assert first.json()["path"].endswith("network=a+b&all=true&none=&tag=x&tag=y")
    assert first.headers.get("x-release") == first.headers["X-RELEASE"] == "7"
    assert first.url == f"{server.url}{first.json()['path']}"
    assert second.json() == {"path": "/api/v1/apps"}
    assert server.seen[0][2]["Authorization"] == "Bearer t"
    assert server.connections == 1


def test_json_body_is_sent_with_its_type(serve: Any) -> None:
    server = serve(lambda h: ok({"got": json.loads(h.body), "type": h.headers["Content-Type"]}))
    answer = connection(server).request("POST", "/x", body=wire.json_body({"name": "é"}))
    assert answer.json() == {"got": {"name": "é"}, "type": "application/json"}


class Impatient(Handler):
    timeout = 0.1  # closes a kept-alive connection idle this long


def test_a_connection_the_server_closed_meanwhile_is_replaced(serve: Any) -> None:
    server = serve(lambda h: ok({}), Impatient)
    conn = connection(server)
    conn.request("GET", "/a")
    time.sleep(0.5)
    assert conn.request("POST", "/b").status_code == 200
    assert server.connections == 2


def test_timeout_and_unreachable_are_standard_errors(serve: Any) -> None:
    server = serve(lambda h: (time.sleep(1), ok({}))[1])
    with pytest.raises(TimeoutError):
        connection(server, timeout=0.2).request("GET", "/slow")
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    unreachable = wire.Connection(f"http://127.0.0.1:{port}", timeout=1, connect_timeout=1)
    with pytest.raises(OSError):
        unreachable.request("GET", "/")


def test_api_client_refreshes_on_401_over_the_wire(serve: Any) -> None:
    def route(h: Handler) -> Reply:
        if h.path == "/api/v1/auth/refresh":
            body = {"access_token": "mxa_2", "refresh_token": "mxr_2", "expires_in": 900}
            return ok(body)
        if h.headers.get("Authorization") == "Bearer mxa_2":
            return ok([{"name": "web"}])
        expired = {"error": {"code": "token_expired", "message": "expired", "hint": ""}}
        return 401, {}, json.dumps(expired).encode()

    server = serve(route)
    stored: list[Tokens] = []
    client = ApiClient(server.url, Tokens("mxa_1", "mxr_1"), on_refresh=stored.append)
    assert client.get("/apps") == [{"name": "web"}]
    assert [t.access_token for t in stored] == ["mxa_2"]
    assert [p for _, p, _ in server.seen] == [
        "/api/v1/apps",
        "/api/v1/auth/refresh",
        "/api/v1/apps",
    ]
    client.close()


def test_api_client_errors_over_the_wire(serve: Any) -> None:
    def route(h: Handler) -> Reply:
        if h.path.startswith("/api/v1/slow"):
            time.sleep(1)
        body = {"error": {"code": "not_found", "message": "no app web", "hint": "h"}}
        return 404, {}, json.dumps(body).encode()

    server = serve(route)
    with pytest.raises(NotFoundError, match="no app web"):
        ApiClient(server.url, Tokens("t")).get("/apps/web")
    with pytest.raises(UnreachableError, match="did not answer in time") as slow:
        ApiClient(server.url, Tokens("t"), timeout=0.2).get("/slow")
    assert slow.value.exit_code == ExitCode.UNREACHABLE
    expired = serve(lambda h: (401, {}, b""))
    with pytest.raises(AuthError):
        ApiClient(expired.url, Tokens("t")).get("/apps")


def test_api_client_unreachable_exits_6(serve: Any) -> None:
    server = serve(lambda h: ok({}))
    url = server.url
    server.shutdown()
    server.server_close()
    with pytest.raises(UnreachableError, match="cannot reach") as error:
        ApiClient(url, Tokens("t")).get("/apps")
    assert error.value.exit_code == ExitCode.UNREACHABLE


def test_verbose_log_never_shows_secrets(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    def route(h: Handler) -> Reply:
        return ok({"access_token": "mxa_new"} if "login" in h.path else [])

    server = serve(route)
    client = ApiClient(server.url, Tokens("mxa_secret", "mxr_secret"))
    with caplog.at_level(logging.INFO, logger="rig.http"):
        client.get("/apps", params={"network": "n"})
        client.post("/auth/login", {"password": "hunter2"}, auth=False)
    text = caplog.text
    assert f"GET {server.url}/api/v1/apps?network=n -> 200" in text
    assert "POST" in text
    for secret in ("mxa_secret", "mxr_secret", "hunter2", "mxa_new", "mxr_new"):
        assert secret not in text
