"""HTTP/1.1 through the edge: keep-alive, pipelining, WebSockets, SSE, forwarded headers."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time

import httpx
import websockets

from tests.router.conftest import Served, raw_exchange


def test_keep_alive_serves_several_requests_and_apps_on_one_connection(served: Served) -> None:
    ports = {name: served.app_port(name) for name in (served.app, "other")}
    with httpx.Client(trust_env=False, timeout=10) as client:
        seen = []
        for name in (served.app, "other", served.app, "other", served.app):
            response = client.get(
                f"http://127.0.0.1:{served.platform.port}/hello",
                headers={"Host": served.host(name)},
            )
            assert response.text.startswith(f"hello from {ports[name]} "), response.text
            seen.append(
                response.extensions["network_stream"].get_extra_info("socket").getsockname()
            )
    assert len(set(seen)) == 1  # one client connection throughout


def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    request = f"GET /hello HTTP/1.1\r\nHost: {served.host()}\r\n\r\n".encode()
    closing = f"GET /headers HTTP/1.1\r\nHost: {served.host()}\r\nConnection: close\r\n\r\n"
    answer = raw_exchange(served.platform.port, request * 3 + closing.encode())
    assert answer.count(b"HTTP/1.1 200") == 4, answer
    assert answer.count(b"hello from") == 3
    assert answer.rindex(b"hello from") < answer.index(b"x-request-id:")


def test_forwarded_headers_and_a_request_id(served: Served) -> None:
    response = httpx.get(
        f"http://127.0.0.1:{served.platform.port}/headers",
        headers={"Host": served.host(), "X-Forwarded-For": "10.9.9.9", "Forwarded": "for=evil"},
        trust_env=False,
    )
    headers = dict(line.split(": ", 1) for line in response.text.splitlines())
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["x-forwarded-for"].endswith("127.0.0.1")
    assert lowered["x-forwarded-host"] == served.host()
    assert lowered["x-forwarded-proto"] == "http"
    assert lowered["forwarded"] == f"for=127.0.0.1;host={served.host()};proto=http"
    assert len(lowered["x-request-id"]) >= 8
    assert "connection" not in lowered or lowered["connection"].lower() != "upgrade"


def test_a_websocket_echoes_both_ways_and_closes_cleanly(served: Served) -> None:
    async def talk() -> tuple[list[str], int | None]:
        url = f"ws://{served.host()}/ws"  # connected to the platform's port on loopback:
        async with websockets.connect(url, host="127.0.0.1", port=served.platform.port) as ws:
            answers = []
            for word in ("one", "two", "three"):
                await ws.send(word)
                answers.append(str(await asyncio.wait_for(ws.recv(), 10)))
            await ws.close(1000)
            return answers, ws.close_code

    answers, code = asyncio.run(talk())
    assert answers == ["echo: one", "echo: two", "echo: three"]
    assert code == 1000


def test_an_sse_stream_arrives_event_by_event(served: Served) -> None:
    arrivals: list[tuple[float, str]] = []
    with httpx.stream(
        "GET",
        f"http://127.0.0.1:{served.platform.port}/sse",
        headers={"Host": served.host()},
        trust_env=False,
        timeout=20,
    ) as response:
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append((time.monotonic(), line))
    assert [line.split()[1] for _, line in arrivals] == ["0", "1", "2", "3", "4"]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(arrivals)]
    assert all(gap > 0.5 for gap in gaps), gaps  # each as written, a second apart


def test_an_app_that_closes_without_answering_is_a_502(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.platform.port), timeout=10) as conn:
        conn.sendall(f"GET /nothing HTTP/1.1\r\nHost: {served.host()}\r\n\r\n".encode())
        head = conn.recv(4096)
    assert head.startswith(b"HTTP/1.1 404"), head  # the app's own answer passes through
