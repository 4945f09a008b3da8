"""``listener.PortOwner``: the router's check of whose listener answers on an app's port, with
real processes and sockets."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from maxlocal.runtime import listener
from maxlocal.runtime.listener import PortOwner, listening_inodes
from maxlocal.runtime.supervisor import LocalProcessDriver, Release, StartError, free_port

# Listens on argv[1] (with SO_REUSEPORT, so that a second process can share the port, as one
# tenant can with another of the same uid), then waits; a child of a shell when nested.
LISTEN = (
    "import socket, sys, time\n"
    "s = socket.socket()\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "s.listen()\n"
    "print('listening', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def listen(procs: list[subprocess.Popen[str]], port: int, *, via_shell: bool = False) -> int:
    argv = [sys.executable, "-c", LISTEN, str(port)]
    if via_shell:  # the listener is the shell's child, as an app under /bin/sh -c is
        argv = ["/bin/sh", "-c", shlex.join(argv) + "; true"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    procs.append(proc)
    assert proc.stdout is not None and proc.stdout.readline() == "listening\n"
    return proc.pid


def idle(procs: list[subprocess.Popen[str]]) -> int:
    proc = subprocess.Popen(["sleep", "60"])
    procs.append(proc)  # type: ignore[arg-type]
    return proc.pid


def test_the_listener_of_the_process_tree_is_its_own(started: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    app = listen(started, port, via_shell=True)
    assert PortOwner(port).owned_by(app)
    assert not PortOwner(port).owned_by(idle(started))


def test_no_listener_is_nobody_s(started: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    assert listening_inodes(port) == frozenset()
    assert not PortOwner(port).owned_by(idle(started))


def test_a_second_listener_sharing_the_port_is_seen_after_a_verified_one(
    started: list[subprocess.Popen[str]],
) -> None:
    port = free_port()
    owner = PortOwner(port)
    app = listen(started, port)
    assert owner.owned_by(app)  # verified, and remembered
    listen(started, port)  # another process joins the port (SO_REUSEPORT)
    assert len(listening_inodes(port)) == 2
    assert not owner.owned_by(app)


def test_a_release_whose_port_another_process_took_does_not_become_ready(
    tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    """The web process tells its port (in a file) but does not listen; another process binds
    the port: the start fails at once, naming the cause, rather than serving the squatter."""
    driver = LocalProcessDriver(health_timeout=60)
    told = tmp_path / "port"
    web = f'echo "$PORT" > {shlex.quote(str(told))}; exec sleep 60'
    outcome: list[BaseException] = []

    def start() -> None:
        try:
            driver.start(Release("shop/site", 1, tmp_path, {"web": web}))
        except BaseException as exc:  # the outcome is what the test is about
            outcome.append(exc)

    thread = threading.Thread(target=start)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not told.exists() or not told.read_text().strip():
            assert time.monotonic() < deadline, "the web process did not start"
            time.sleep(0.02)
        began = time.monotonic()
        listen(started, int(told.read_text()))
        thread.join(30)
        assert not thread.is_alive()
        assert time.monotonic() - began < 10  # at once, not after the health timeout
    finally:
        driver.close()
    assert len(outcome) == 1 and isinstance(outcome[0], StartError), outcome
    assert "is held by a process that is not this release's own" in outcome[0].message


def test_the_kernel_s_answer_and_proc_net_agree_on_ipv4_and_ipv6() -> None:
    """sock_diag (asked on every request) finds what ``/proc/net/tcp*`` lists, both families."""
    with socket.socket() as v4, socket.socket(socket.AF_INET6) as v6:
        v4.bind(("127.0.0.1", 0))
        port = v4.getsockname()[1]
        v4.listen()
        v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        v6.bind(("::1", port))
        v6.listen()
        inodes = {os.fstat(s.fileno()).st_ino for s in (v4, v6)}
        assert listener._diag_listeners(port) == inodes
        assert listener._proc_listeners(port) == inodes
    assert listener._diag_listeners(port) == frozenset()
