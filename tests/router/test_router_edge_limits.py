"""The edge's retries and timeouts, against a real HAProxy (``Edge``, short ``Timeouts``) and
upstreams in this process that misbehave on purpose: refuse, drop a request unanswered,
never answer, or meet a visitor that reads nothing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from maxlocal.edge import haproxy
from maxlocal.edge.routes import Upstream
from maxlocal.runtime.router import BAD_GATEWAY, GATEWAY_TIMEOUT, page

TIMEOUTS = haproxy.Timeouts(server=1.5, client=2, keep_alive=2, head=2)
MB = 1 << 20


@dataclass
class Upstreams:
    """Listening sockets in this process, each answering in its own way."""

    accepted: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)
    """When an upstream's write failed (the edge closed its connection)."""
    sockets: list[socket.socket] = field(default_factory=list)

    def serve(self, name: str, handle: Callable[[socket.socket], None]) -> Upstream:
        listener = socket.create_server(("127.0.0.1", 0))
        self.sockets.append(listener)
        self.accepted[name] = 0

        def run() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                self.accepted[name] += 1
                self.sockets.append(conn)
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

        threading.Thread(target=run, daemon=True).start()
        return Upstream("127.0.0.1", listener.getsockname()[1], name)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def ok(conn: socket.socket) -> None:
    read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
    conn.close()


def drops(conn: socket.socket) -> None:
    """Reads the request and closes without a word (as an instance killed mid-request)."""
    read_head(conn)
    conn.close()


def hangs(conn: socket.socket) -> None:
    read_head(conn)  # and never answers


def dead() -> Upstream:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return Upstream("127.0.0.1", sock.getsockname()[1], "dead")


@dataclass
class Running:
    edge: haproxy.Edge
    port: int
    upstreams: Upstreams

    def get(self, app: str, method: str = "GET", **kwargs: object) -> httpx.Response:
        with httpx.Client(trust_env=False, timeout=30) as client:
            return client.request(  # type: ignore[arg-type]
                method, f"http://127.0.0.1:{self.port}/x", headers={"Host": host(app)}, **kwargs
            )


def host(app: str) -> str:
    return f"{app}.shop.localhost"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    binary = haproxy.find()
    assert binary is not None, "HAProxy is installed by scripts/install-system-deps"
    public = socket.create_server(("127.0.0.1", 0))
    folder: Path = tmp_path_factory.mktemp("edge")
    edge = haproxy.Edge(binary, folder, public, 9, lambda *_: None, TIMEOUTS)
    edge.start()
    upstreams = Upstreams()
    try:
        yield Running(edge, public.getsockname()[1], upstreams)
    finally:
        edge.close()
        upstreams.close()
        public.close()


def test_a_refused_connection_is_tried_on_another_instance(running: Running) -> None:
    """Nothing was sent to a dead instance: any method goes to a live one."""
    live = running.upstreams.serve("refused-live", ok)
    running.edge.apply({"shop/refused": (dead(), live, dead())})
    for method in ("GET", "POST", "GET", "POST"):
        response = running.get("refused", method, content=b"body")
        assert (response.status_code, response.text) == (200, "ok\n"), response.text


def test_an_unanswered_request_is_retried_only_if_idempotent(running: Running) -> None:
    """An instance that read the request and closed (it died meanwhile): a GET is sent to
    another; a POST is not (the app may have acted on it), its visitor gets the 502 page."""
    dropper = running.upstreams.serve("dropper", drops)
    live = running.upstreams.serve("drop-live", ok)
    running.edge.apply({"shop/drop": (dropper, live)})
    for _ in range(6):
        assert running.get("drop").text == "ok\n"
    assert running.upstreams.accepted["dropper"] >= 1  # least connections tried it too
    running.edge.apply({"shop/drop": (dropper,)})
    time.sleep(0.2)
    before = running.upstreams.accepted["dropper"]
    response = running.get("drop", "POST", content=b"order=1")
    assert response.status_code == 502, response.text
    assert response.text == page(BAD_GATEWAY, "shop", "drop")
    assert running.upstreams.accepted["dropper"] == before + 1  # sent once, not again


def test_an_app_that_never_answers_gets_a_504_after_the_server_timeout(running: Running) -> None:
    hung = running.upstreams.serve("hung", hangs)
    running.edge.apply({"shop/hung": (hung,)})
    started = time.monotonic()
    response = running.get("hung")
    waited = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert response.text == page(GATEWAY_TIMEOUT, "shop", "hung")
    assert TIMEOUTS.server - 0.1 <= waited < TIMEOUTS.server + 3, waited
    assert running.upstreams.accepted["hung"] == 1  # a timed-out request is not repeated


def test_a_visitor_that_reads_nothing_holds_back_the_app_not_the_edge(running: Running) -> None:
    """The app's writes wait on the edge's bounded buffers; after ``Timeouts.client`` the edge
    closes both sides. Other visitors are served meanwhile."""
    ups = running.upstreams

    def endless(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
        chunk = b"x" * 65536
        ups.written["endless"] = 0
        try:
            while True:
                conn.sendall(chunk)
                ups.written["endless"] += len(chunk)
        except OSError:
            ups.ended["endless"] = time.monotonic()

    running.edge.apply(
        {"shop/slow": (ups.serve("endless", endless),), "shop/quick": (ups.serve("quick", ok),)}
    )
    router = psutil.Process(running.edge.proc.pid if running.edge.proc else 0)
    rss = router.memory_info().rss
    with socket.create_connection(("127.0.0.1", running.port)) as visitor:
        visitor.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        visitor.sendall(f"GET /x HTTP/1.1\r\nHost: {host('slow')}\r\n\r\n".encode())
        stalled_at = time.monotonic()
        time.sleep(1)
        assert running.get("quick").text == "ok\n"
        written = ups.written.get("endless", 0)
        assert 0 < written < 32 * MB, written  # socket buffers and the edge's: held back
        assert (router.memory_info().rss - rss) / MB < 20
        deadline = stalled_at + TIMEOUTS.client + 5
        while "endless" not in ups.ended:
            assert time.monotonic() < deadline, ups.written
            time.sleep(0.1)
    assert ups.ended["endless"] - stalled_at >= TIMEOUTS.client - 0.1


def test_a_withdrawn_instance_is_drained_then_deleted(running: Running) -> None:
    first = running.upstreams.serve("first", ok)
    second = running.upstreams.serve("second", ok)
    running.edge.apply({"shop/drain": (first, second)})
    assert running.get("drain").text == "ok\n"
    running.edge.apply({"shop/drain": (second,)})
    deadline = time.monotonic() + 10
    while "first" in servers(running.edge):
        assert time.monotonic() < deadline, servers(running.edge)
        time.sleep(0.2)
    assert "second" in servers(running.edge)
    running.edge.apply({})
    while "second" in servers(running.edge):
        assert time.monotonic() < deadline, servers(running.edge)
        time.sleep(0.2)
    assert running.get("drain").status_code == 503  # no route: the one "not serving" page


def servers(edge: haproxy.Edge) -> str:
    """``show servers state`` of every backend: one line per server, its name in it."""
    return edge._command("show servers state")


def test_a_restarted_haproxy_gets_the_servers_back(running: Running) -> None:
    """HAProxy is started again if it exits; the new process loads the map and is given every
    instance again (a server added at run time is not in its configuration)."""
    live = running.upstreams.serve("again", ok)
    running.edge.apply({"shop/again": (live,)})
    assert running.get("again").text == "ok\n"
    old = running.edge.proc
    assert old is not None
    old.kill()
    deadline = time.monotonic() + 20
    while running.edge.proc is old or not running.edge._answers():
        assert time.monotonic() < deadline, "HAProxy was not started again"
        time.sleep(0.1)
    assert running.get("again").text == "ok\n"
