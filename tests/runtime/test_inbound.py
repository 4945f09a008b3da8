"""The forwarder from the host's loopback into a network's namespace (``netns.forward``): an
instance's own HAProxy, or ``runtime.inbound`` where HAProxy is not installed; each with real
sockets at both ends (a server in the namespace, a client on the host), in both of the
platform's namespace modes (``spaces``). What pasta's forwarding got wrong is what is tried:
a receiver slower than its sender, at either end, and half-closed connections."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from maxlocal.runtime.netns import Forwarder, Namespaces, NetworkNamespace
from maxlocal.runtime.supervisor import free_port

MB = 1 << 20
SERVE = """
import hashlib, socket, sys, threading, time
def serve(conn):
    stream = conn.makefile("rb")
    mode, size = stream.readline().split()
    if mode == b"up":  # read slowly until the client's end, then say what came
        digest, total = hashlib.sha256(), 0
        while data := stream.read1(65536):
            digest.update(data); total += len(data); time.sleep(0.002)
        conn.sendall(f"{total} {digest.hexdigest()}".encode())
    else:  # send ``size`` bytes as fast as they are taken
        block = bytes(range(256)) * 4096
        for _ in range(int(size) // len(block)):
            conn.sendall(block)
    conn.close()
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(128)
print("listening", flush=True)
while True:
    threading.Thread(target=serve, args=(s.accept()[0],)).start()
"""


@pytest.fixture(params=["haproxy", "inbound"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def space_of(spaces: Namespaces, network: int, kind: str) -> NetworkNamespace:
    """Network ``network``'s namespace, forwarding with ``kind``."""
    space = spaces.get(network)
    assert space is not None and space.tools.haproxy, "haproxy: scripts/install-system-deps"
    if kind == "inbound":  # as on a machine without HAProxy
        return dataclasses.replace(space, tools=dataclasses.replace(space.tools, haproxy=""))
    return space


@pytest.fixture
def forwarded(spaces: Namespaces, kind: str) -> Iterator[tuple[int, Forwarder]]:
    """A port of the host forwarded into a namespace where SERVE listens on it."""
    space = space_of(spaces, 5, kind)
    port = free_port()
    server = serve_in(space, port)
    forwarder = space.forward(port)
    try:
        yield port, forwarder
    finally:
        forwarder.stop()
        server.kill()
        server.wait()


def serve_in(space: NetworkNamespace, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*space.enter(), sys.executable, "-c", SERVE, str(port)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "listening\n"
    return proc


def upload(port: int, size: int) -> tuple[str, str]:
    """Send ``size`` bytes, half-close, and return (what the server says, what was sent)."""
    digest = hashlib.sha256()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"up 0\n")
        block = os.urandom(MB // 4)
        for _ in range(size // len(block)):
            digest.update(block)
            sock.sendall(block)
        sock.shutdown(socket.SHUT_WR)  # the server sees the end, and still answers
        said = b""
        while data := sock.recv(4096):
            said += data
    return said.decode(), f"{size} {digest.hexdigest()}"


def test_an_upload_to_a_slow_reader_arrives_whole_and_the_answer_after_a_half_close(
    forwarded: tuple[int, Forwarder],
) -> None:
    port, _ = forwarded
    for _ in range(4):
        said, sent = upload(port, 8 * MB)
        assert said == sent


def test_a_download_by_a_slow_reader_arrives_whole(forwarded: tuple[int, Forwarder]) -> None:
    port, _ = forwarded
    received = hashlib.sha256()
    total = 0
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(f"down {32 * MB}\n".encode())
        while data := sock.recv(65536):
            received.update(data)
            total += len(data)
            time.sleep(0.0005)
    expected = hashlib.sha256((bytes(range(256)) * 4096) * 32).hexdigest()
    assert (total, received.hexdigest()) == (32 * MB, expected)


def test_with_nothing_listening_inside_a_visitor_is_closed_at_once(
    spaces: Namespaces, kind: str
) -> None:
    """Without a byte, so that the router tries another instance at once (reset by
    ``runtime.inbound``, closed by HAProxy)."""
    space = space_of(spaces, 6, kind)
    port = free_port()
    forwarder = space.forward(port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            started = time.monotonic()
            try:
                sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
                got = sock.recv(10)
            except ConnectionResetError:
                got = b""
            assert got == b""
            assert time.monotonic() - started < 1
    finally:
        forwarder.stop()


def test_many_at_once_are_all_served_and_leave_no_descriptor_behind(
    forwarded: tuple[int, Forwarder],
) -> None:
    """Every connection is closed at both ends once done, and a second burst leaves the
    forwarder with as many descriptors as the first (HAProxy keeps a pool of pipes)."""
    port, forwarder = forwarded
    process = psutil.Process(forwarder.pid)
    settled = []
    answers: list[bool] = []

    def one() -> None:
        said, sent = upload(port, MB // 2)
        answers.append(said == sent)

    for _ in range(2):
        answers.clear()
        threads = [threading.Thread(target=one) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [True] * 40
        settled.append(idle_fds(process))
    assert settled[0] == settled[1], settled


def idle_fds(process: psutil.Process) -> int:
    """How many descriptors the forwarder has once every connection it relayed is closed (a
    client has its answer a moment before the forwarder has seen both ends close)."""
    deadline = time.monotonic() + 5
    while any(c.status != psutil.CONN_LISTEN for c in process.net_connections("tcp")):
        assert time.monotonic() < deadline, process.net_connections("tcp")
        time.sleep(0.02)
    return process.num_fds()


def test_the_port_taken_already_is_a_clear_error(spaces: Namespaces) -> None:
    space = spaces.get(7)
    assert space is not None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(Exception, match=f"forwarding port {port}: Address already in use"):
            space.forward(port)
