"""``runtime.egress``: the builds' proxy, listening inside a real network namespace, asked by
real clients (curl, Python's http.client) from inside it.

The attack it must refuse is the namespace's own wall: a ``CONNECT`` to the host's loopback,
where the platform's API and every other network's apps listen. The same request is shown
to work when the check is taken away, so the refusal is the check's doing."""

from __future__ import annotations

import http.server
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from maxlocal.runtime import egress
from maxlocal.runtime.egress import Egress
from maxlocal.runtime.netns import Namespaces, NetworkNamespace

ASK = (
    "import os, socket, sys\n"
    "port = int(os.environ['HTTPS_PROXY'].rsplit(':', 1)[1])\n"
    "s = socket.create_connection(('127.0.0.1', port), timeout=10)\n"
    "s.sendall(sys.argv[1].encode().decode('unicode_escape').encode())\n"
    "got = b''\n"
    "while chunk := s.recv(65536):\n"
    "    got += chunk\n"
    "sys.stdout.write(got.decode('latin-1'))\n"
)
"""Send ``argv[1]`` (escapes allowed) to the proxy of ``HTTPS_PROXY``; print all it answers."""


@pytest.fixture
def proxy() -> Iterator[Egress]:
    made = Egress()
    made.disabled = False  # whatever this machine's own proxy settings
    yield made
    made.close()


@pytest.fixture
def host_secret() -> Iterator[tuple[int, str]]:
    """A server on the host's loopback (where the platform's API listens): its port and the
    token only it answers with."""
    token = secrets.token_hex(8)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(token.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], token
    server.shutdown()
    server.server_close()


def ask(space: NetworkNamespace, env: dict[str, str], request: str) -> str:
    argv = [*space.enter(), sys.executable, "-c", ASK, request]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def tunnel_get(port: int, host: str = "127.0.0.1") -> str:
    """A CONNECT to ``host:port``, then a plain ``GET /`` through the tunnel."""
    return f"CONNECT {host}:{port} HTTP/1.1\\r\\n\\r\\nGET / HTTP/1.0\\r\\n\\r\\n"


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("169.254.169.254", False),
        ("fe80::1%2", False),
        ("224.0.0.1", False),
        ("151.101.0.223", True),
        ("10.1.2.3", True),
        ("2a04:4e42::223", True),
    ],
)
def test_which_addresses_the_proxy_connects_to(address: str, allowed: bool) -> None:
    assert egress.allowed(address) is allowed


def test_the_hosts_loopback_is_refused_through_the_proxy(
    spaces: Namespaces, proxy: Egress, host_secret: tuple[int, str]
) -> None:
    port, token = host_secret
    space = spaces.get(1)
    assert space is not None
    env = proxy.env_for(space)
    assert env["HTTPS_PROXY"].startswith("http://127.0.0.1:") and env["https_proxy"]
    for host in ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "0.0.0.0"):
        answer = ask(space, env, tunnel_get(port, host))
        assert answer.startswith("HTTP/1.1 403"), (host, answer)
        assert token not in answer


def test_without_the_check_the_same_request_reaches_the_host(
    spaces: Namespaces,
    proxy: Egress,
    host_secret: tuple[int, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attack is real: the refusal above is the address check's, nothing else's."""
    monkeypatch.setattr(egress, "allowed", lambda address: True)
    port, token = host_secret
    space = spaces.get(2)
    assert space is not None
    answer = ask(space, proxy.env_for(space), tunnel_get(port))
    assert answer.startswith("HTTP/1.1 200 Connection established"), answer
    assert answer.endswith(token)


@pytest.mark.parametrize(
    ("request_text", "status"),
    [
        ("GET http://pypi.org/ HTTP/1.1\\r\\n\\r\\n", "405"),
        ("CONNECT pypi.org HTTP/1.1\\r\\n\\r\\n", "400"),
        ("CONNECT pypi.org:0 HTTP/1.1\\r\\n\\r\\n", "400"),
        ("CONNECT :443 HTTP/1.1\\r\\n\\r\\n", "400"),
    ],
)
def test_what_is_not_a_connect_gets_a_clear_answer(
    spaces: Namespaces, proxy: Egress, request_text: str, status: str
) -> None:
    space = spaces.get(3)
    assert space is not None
    answer = ask(space, proxy.env_for(space), request_text)
    assert answer.startswith(f"HTTP/1.1 {status}"), answer


@pytest.mark.network
def test_a_build_reaches_the_index_through_it(spaces: Namespaces, proxy: Egress) -> None:
    """What builds use it for: HTTPS to the package index, by a client that honours the
    proxy variables (curl here; uv, pip and npm alike)."""
    space = spaces.get(4)
    assert space is not None
    env = {"PATH": "/usr/bin:/bin", **proxy.env_for(space)}
    argv = [*space.enter(), "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}"]
    argv += ["--max-time", "20", "https://pypi.org/simple/six/"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
    assert done.stdout == "200", done.stderr


def test_one_listener_per_namespace_made_again_with_it(spaces: Namespaces, proxy: Egress) -> None:
    first = spaces.get(5)
    assert first is not None
    env = proxy.env_for(first)
    assert proxy.env_for(first) == env  # made once
    spaces.remove(5)
    proxy.forget(first.name)
    again = spaces.get(5)
    assert again is not None
    renewed = proxy.env_for(again)
    assert renewed and ask(again, renewed, "CONNECT x HTTP/1.1\\r\\n\\r\\n").startswith(
        "HTTP/1.1 400"
    )


def test_no_namespace_or_a_machine_proxy_means_no_variables(
    spaces: Namespaces, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = spaces.get(6)
    made = Egress()
    try:
        made.disabled = False
        assert made.env_for(None) == {}
        monkeypatch.setitem(os.environ, "HTTPS_PROXY", "http://proxy.example:3128")
        mine = Egress()
        assert mine.disabled and mine.env_for(space) == {}
        mine.close()
    finally:
        made.close()


def test_a_namespace_it_cannot_listen_in_leaves_builds_to_pasta(
    spaces: Namespaces, proxy: Egress, caplog: pytest.LogCaptureFixture
) -> None:
    """nsenter cannot join the namespace (here: the test's own user namespace, which setns
    refuses): no variables, and the platform's log says why builds go out through pasta."""
    tools = spaces.get(7).tools
    unjoinable = NetworkNamespace("rig-egress-unjoinable", tools, holder=os.getpid())
    with caplog.at_level("WARNING", logger="maxlocal.runtime.egress"):
        assert proxy.env_for(unjoinable) == {}
    [record] = [r for r in caplog.records if r.name == "maxlocal.runtime.egress"]
    assert record.getMessage().startswith(
        "builds in rig-egress-unjoinable go out through pasta: could not listen in "
        "rig-egress-unjoinable: "
    )


HOLD = (
    "import os, socket, sys\n"
    "port = int(os.environ['HTTPS_PROXY'].rsplit(':', 1)[1])\n"
    "s = socket.create_connection(('127.0.0.1', port), timeout=30)\n"
    "s.sendall(f'CONNECT 127.0.0.1:{sys.argv[1]} HTTP/1.1\\r\\n\\r\\n'.encode())\n"
    "print(s.recv(65536).decode('latin-1').split('\\r\\n')[0], flush=True)\n"
    "while s.recv(65536):\n"
    "    pass\n"
    "print('ended')\n"
)
"""Open a tunnel to the host's ``argv[1]`` through the proxy, say its answer, hold it until
it ends and say so."""


def test_closing_ends_the_relays_it_is_running(
    spaces: Namespaces, proxy: Egress, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A platform that stops with a build's download under way ends that relay then: both
    of its connections are closed, and the proxies' loop with them (a relay left pending
    was only ended by the garbage collector, once the loop was gone)."""
    monkeypatch.setattr(egress, "allowed", lambda address: True)  # a host server stands in
    upstream = socket.create_server(("127.0.0.1", 0))
    space = spaces.get(8)
    env = proxy.env_for(space)
    argv = [*space.enter(), sys.executable, "-c", HOLD, str(upstream.getsockname()[1])]
    client = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    try:
        upstream.settimeout(30)
        held, _ = upstream.accept()
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "HTTP/1.1 200 Connection established"
        loop = proxy._loop
        assert loop is not None and not loop.is_closed()
        proxy.close()
        held.settimeout(5)
        assert held.recv(1) == b""  # the proxy closed its side towards the host
        out, _ = client.communicate(timeout=5)  # and towards the build: its read ended
        assert out.strip() == "ended"
        assert loop.is_closed()
    finally:
        client.kill()
        upstream.close()
