"""Builds' way out: an HTTPS proxy of the platform's, listening inside each network's namespace.

A build in its network's namespace (``runtime.netns``) reaches the package registries
through that namespace's outbound ``pasta``. Debian 12's pasta (passt 2023-03) writes a
tenant's bytes to the host's socket without ``TCP_NODELAY``: in TLS 1.3 the client sends its
first request right behind its unacknowledged Finished, and pasta's socket holds the request
until the server's delayed ACK, ~40 ms later. uv opens a few connections per resolution, so
a small app's first build took ~0.1 s more in the namespace than outside it.

So builds get ``HTTPS_PROXY`` pointing at a listener that lives in their namespace but is
the platform's own socket (made by a short-lived child that joins the namespace and hands
the socket back over ``SCM_RIGHTS``; a socket stays in the namespace it was made in). The
platform answers ``CONNECT`` from there, connects from the host's namespace with
``TCP_NODELAY`` (asyncio sets it on every TCP transport) and relays: pasta is not on the
path. Tools that ignore the proxy variables still go out through pasta, as before.

The proxy is no way around the namespace's walls: it refuses a destination that resolves to
a loopback, unspecified, link-local, multicast or reserved address (the host's loopback is
where the platform's API and every other network's apps listen), and connects to the very
address it checked. It serves only ``CONNECT`` (registries speak HTTPS); ``HTTP_PROXY`` is
not set, so plain-HTTP fetches go out through pasta. A machine with proxy settings of its
own keeps them (``Toolbox.download_env``): builds then use the machine's proxy, not this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from maxlocal.builders.toolbox import machine_proxies
from maxlocal.runtime.netns import NetnsError, NetworkNamespace, run_tool

log = logging.getLogger(__name__)

MAKE = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
    "s.bind(('127.0.0.1', 0)); s.listen(128)\n"
    "socket.send_fds(socket.socket(fileno=int(sys.argv[1])), [b'L'], [s.fileno()])\n"
)
"""The child's program, run inside the namespace: make the listener, hand it back."""
CHUNK = 65536
"""Bytes relayed at a time; also the longest request head read."""
CONNECT_TIMEOUT = 10.0
REFUSED = "refused: the build's proxy does not connect to the host's own or local addresses"


class EgressError(Exception):
    """The listener could not be made in the namespace; builds go out through pasta."""


def make_listener(space: NetworkNamespace) -> socket.socket:
    """A listening socket on ``127.0.0.1`` inside ``space``, owned by this process."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        argv = [*space.enter(), sys.executable, "-I", "-S", "-c", MAKE, str(theirs.fileno())]
        try:
            run_tool(argv, {"PATH": "/usr/bin:/bin"}, (theirs.fileno(),))
        except NetnsError as exc:
            raise EgressError(f"could not listen in {space.name}: {exc}") from exc
        _, fds, _, _ = socket.recv_fds(ours, 1, 1)
    if not fds:
        raise EgressError(f"no listener came back from {space.name}")
    return socket.socket(fileno=fds[0])


def allowed(address: str) -> bool:
    """Whether the proxy may connect to ``address`` (an IP address, v4 or v6)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast or ip.is_reserved
    )


@dataclass
class _Listening:
    inode: int
    server: asyncio.Server
    env: dict[str, str]


class Egress:
    """The platform's build proxies, one listener per network namespace, all served by one
    event loop in a thread of their own (the platform's request handling is not slowed by a
    build's downloads, nor they by it)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listening: dict[str, _Listening] = {}
        self._lock = threading.Lock()
        self.disabled = bool(machine_proxies())
        """The machine has a proxy of its own: builds use it (``Toolbox.download_env``)."""

    def env_for(self, space: NetworkNamespace | None) -> dict[str, str]:
        """What a build in ``space`` adds to its environment: the proxy variables for its
        namespace's listener (made now if needed), or nothing (no namespace, the machine's
        own proxy, or the listener could not be made: then pasta, and the log says why)."""
        if space is None or self.disabled:
            return {}
        try:
            inode = os.stat(space.path).st_ino
        except OSError:
            return {}
        with self._lock:
            found = self._listening.get(space.name)
            if found is not None and found.inode == inode:
                return found.env
            if found is not None:  # the namespace was made again: the old one is gone
                self._call(found.server.close)
            try:
                listener = make_listener(space)
            except EgressError as exc:
                log.warning("builds in %s go out through pasta: %s", space.name, exc)
                return {}
            port = listener.getsockname()[1]
            server = self._run(asyncio.start_server(_serve, sock=listener, limit=CHUNK))
            url = f"http://127.0.0.1:{port}"
            env = {"HTTPS_PROXY": url, "https_proxy": url}
            self._listening[space.name] = _Listening(inode, server, env)
            return env

    def forget(self, name: str) -> None:
        """The namespace ``name`` is deleted: close its listener (a socket holds its
        namespace alive)."""
        with self._lock:
            found = self._listening.pop(name, None)
        if found is not None:
            self._call(found.server.close)

    def close(self) -> None:
        with self._lock:
            servers = [found.server for found in self._listening.values()]
            self._listening.clear()
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        with contextlib.suppress(TimeoutError, RuntimeError):  # a relay slow to end; a loop gone
            asyncio.run_coroutine_threadsafe(_shut(servers), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()

    def _call(self, fn: Callable[[], object]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(fn)

    def _run(self, coro: Coroutine[Any, Any, asyncio.Server]) -> asyncio.Server:
        """Run ``coro`` on the proxies' loop (started at the first listener)."""
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="egress", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=10)


async def _shut(servers: list[asyncio.Server]) -> None:
    """Stop listening and end every relay still running: each closes its two sockets as it
    ends, in the loop (a relay left pending would be ended by the garbage collector, after
    the loop is gone, and its sockets with it)."""
    for server in servers:
        server.close()
    running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One client, until it is done or the proxies shut down (``_shut`` cancels it: a client
    task that ends cancelled is logged as an error by Python 3.11's stream server)."""
    try:
        await _tunnel(reader, writer)
    except asyncio.CancelledError:
        writer.close()


async def _tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """``CONNECT host:port``, checked, connected, then relayed both ways."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CONNECT_TIMEOUT)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        writer.close()  # gone, silent for too long (TimeoutError), or a head too long
        return
    try:
        upstream = await _connect(head)
    except _Answer as answer:
        writer.write(f"HTTP/1.1 {answer.status}\r\nConnection: close\r\n\r\n{answer}\n".encode())
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        return
    up_reader, up_writer = upstream
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    try:
        await asyncio.gather(_relay(reader, up_writer), _relay(up_reader, writer))
    finally:
        writer.close()
        up_writer.close()


class _Answer(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


async def _connect(head: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The checked upstream connection that ``head`` (a request head) asks for."""
    parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(parts) != 3 or parts[0] != "CONNECT":
        raise _Answer("405 Method Not Allowed", "this proxy only serves CONNECT (HTTPS)")
    host, _, port_text = parts[1].rpartition(":")
    host = host.strip("[]")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _Answer("400 Bad Request", f"not a host:port: {parts[1]}")
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, int(port_text), type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _Answer("502 Bad Gateway", f"{host}: {exc.strerror or exc}") from exc
    addresses = [info[4] for info in infos]
    if not addresses or not all(allowed(str(address[0])) for address in addresses):
        raise _Answer("403 Forbidden", REFUSED)
    last: OSError | None = None
    for address in addresses:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(str(address[0]), int(address[1]), limit=CHUNK),
                CONNECT_TIMEOUT,
            )
        except OSError as exc:  # TimeoutError included
            last = exc
    raise _Answer("502 Bad Gateway", f"{host}: {str(last) or 'timed out'}")


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until the end of one direction, then end the other side's writing."""
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
