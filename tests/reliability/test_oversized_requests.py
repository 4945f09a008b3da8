"""Oversized requests: a head over the cap is a 431, a body over the limit a 413, and the
platform's memory does not grow with what it is sent."""

from __future__ import annotations

import contextlib
import json
import socket
import time

import httpx
import psutil
import pytest

from maxlocal.api.limits import DRAIN_LIMIT
from maxlocal.http11 import HEAD_LIMIT
from tests.reliability.figures import PLATFORM, Figures
from tests.support.platform import Platform

MiB = 1024 * 1024
HUGE_BODY = 256 * MiB
RSS_GROWTH_LIMIT = 40 * MiB


def exchange(platform: Platform, head: bytes, body_bytes: int = 0, chunked: bool = False) -> bytes:
    """Send ``head`` (and up to ``body_bytes`` of body, stopping once answered); the answer."""
    sock = socket.create_connection(("127.0.0.1", platform.port), timeout=20)
    answer = b""
    chunk = b"x" * MiB
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
    try:
        sock.sendall(head)
        sent = 0
        while sent < body_bytes and not answer:
            sock.settimeout(20)
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            sock.settimeout(0.001)
            with contextlib.suppress(TimeoutError, BlockingIOError):
                answer += sock.recv(65536)
        sock.settimeout(20)
        while data := sock.recv(65536):
            answer += data
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    return answer


def status_and_code(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)["error"]["code"]


@pytest.mark.parametrize(
    "case",
    ["one huge header", "many headers", "a huge URL", "a head that never ends"],
)
def test_a_head_over_the_cap_is_431(shared_platform: Platform, figures: Figures, case: str) -> None:
    platform = shared_platform
    big = HEAD_LIMIT + 1024
    heads = {
        "one huge header": b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: "
        + b"a" * big
        + b"\r\n\r\n",
        "many headers": b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(big // 8))
        + b"\r\n",
        "a huge URL": b"GET /api/v1/health?" + b"q" * big + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "a head that never ends": b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * big,
    }
    with figures.fault(f"oversized head: {case}", PLATFORM) as injected:
        got = status_and_code(exchange(platform, heads[case]))
        injected.held("431 headers_too_large", got == (431, "headers_too_large"), got)
        healthy = httpx.get(
            f"{platform.url}/api/v1/health", headers={"X-Ok": "a" * (HEAD_LIMIT // 2)}
        )
        injected.state_intact(healthy.is_success, healthy.status_code)


@pytest.mark.parametrize("chunked", [False, True], ids=["with Content-Length", "chunked"])
def test_a_huge_body_is_413_and_not_buffered(
    platform: Platform, figures: Figures, chunked: bool
) -> None:
    token = platform.add_user("big@example.com")["token"]
    server = psutil.Process(platform.process.pid)  # type: ignore[union-attr]
    before = server.memory_info().rss
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % HUGE_BODY
    head = (
        b"POST /api/v1/networks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\n" + framing + b"\r\n\r\n"
    )
    kind = f"oversized body ({'chunked' if chunked else 'Content-Length'})"
    with figures.fault(kind, PLATFORM) as injected:
        start = time.monotonic()
        got = status_and_code(exchange(platform, head, HUGE_BODY, chunked=chunked))
        injected.held("413 payload_too_large", got == (413, "payload_too_large"), got)
        injected.held("refused within 30 s", time.monotonic() - start < 30)
        growth = server.memory_info().rss - before
        injected.held("not buffered", growth < RSS_GROWTH_LIMIT, f"grew {growth / MiB:.0f} MiB")
        healthy = httpx.get(f"{platform.url}/api/v1/health")
        injected.state_intact(healthy.is_success, healthy.status_code)


def test_a_client_still_sending_after_the_413_still_reads_it(shared_platform: Platform) -> None:
    """The platform answers 413 once it has drained ``DRAIN_LIMIT`` and closes. A client that
    sends on before it reads (as curl does until it sees the answer) must still get the 413:
    closed at once, the platform's kernel answers those bytes with a reset, and the reset
    drops the answer the client had not read yet. Closed lingering, it reads it."""
    head = (
        b"POST /api/v1/networks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % HUGE_BODY
    )
    sock = socket.create_connection(("127.0.0.1", shared_platform.port), timeout=20)
    with sock:
        sock.sendall(head + b"x" * (DRAIN_LIMIT + MiB))
        time.sleep(0.5)  # the 413 is written and the platform closes
        with contextlib.suppress(OSError):
            sock.sendall(b"x" * MiB)
        time.sleep(0.5)  # a reset, if one comes, has arrived
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while data := sock.recv(65536):
                answer += data
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
