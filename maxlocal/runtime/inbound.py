"""An app instance's inbound forwarder where HAProxy is not installed (``netns.forward``; with
HAProxy, the instance gets one of its own instead): the host's ``127.0.0.1:PORT`` spliced into
the network namespace it runs in, where the app listens on ``127.0.0.1:PORT``.

The platform binds the host's listener and hands it over (``FD``); this process is started
inside the namespace, so that what it connects to is the app's. Each connection is relayed
both ways with ``splice(2)`` through a pipe per direction: the bytes never come up to Python.

Not pasta's ``-t``: Debian 12's passt (2023-03) loses track of the bytes its pipe holds when
the receiver is full and nothing more is coming: it stops waiting for the receiver to take
them, and the tail of a large upload stayed in pasta until the router's timeout (a 504 a
minute on). passt fixed it in 2024, after Debian 12. Here a direction that holds bytes always
waits for its receiver, and reads only once its pipe is empty, so it never spins on a
readable sender while the receiver is full.

Stdlib only, run as ``python -I -S inbound.py FD PORT``: it starts in milliseconds, and the
listener, bound before, queues connections meanwhile. Per connection it costs more CPU than
HAProxy (the router's figures: 0.78x of straight at c=10 through it, 0.99x through HAProxy).
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import socket
import struct
import sys

FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
CHUNK = 1 << 20
"""At most this much a splice: a pipe holds what fits in its buffers (64 KiB, typically)."""
EVENTS = select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP | select.EPOLLET
LINGER_NONE = struct.pack("ii", 1, 0)
"""SO_LINGER on, 0 s: close with a reset."""


class Direction:
    """Bytes from one socket to the other, through a pipe of its own."""

    def __init__(self, source: socket.socket, target: socket.socket) -> None:
        self.source = source
        self.target = target
        self.out, self.into = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.held = 0
        """Bytes in the pipe, read from the source, not yet taken by the target."""
        self.ended = False
        """The source has closed its sending side."""
        self.shut = False
        """...and everything it sent has been passed on: the target's sending side is shut."""

    def pump(self) -> None:
        """Move what can move now; OSError when either socket is broken."""
        moved = True
        while moved:
            moved = False
            if not self.ended and not self.held:
                try:
                    read = os.splice(self.source.fileno(), self.into, CHUNK, flags=FLAGS)
                except BlockingIOError:
                    read = -1
                if read == 0:
                    self.ended = True
                elif read > 0:
                    self.held += read
            if self.held:
                try:
                    written = os.splice(self.out, self.target.fileno(), self.held, flags=FLAGS)
                except BlockingIOError:
                    written = 0
                self.held -= written
                moved = written > 0
        if self.ended and not self.held and not self.shut:
            self.shut = True
            self.target.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        os.close(self.out)
        os.close(self.into)


class Connection:
    """A visitor's connection (``outer``, on the host) and its own to the app (``inner``)."""

    def __init__(self, outer: socket.socket, inner: socket.socket) -> None:
        self.outer = outer
        self.inner = inner
        self.ways: tuple[Direction, Direction] | None = None
        """Set once ``inner`` is connected."""

    def connected(self) -> bool:
        """Whether ``inner`` has connected (OSError if it could not)."""
        if self.ways is None:
            error = self.inner.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                raise OSError(error, os.strerror(error))
            try:
                self.inner.getpeername()
            except OSError:
                return False  # still connecting
            self.ways = (Direction(self.outer, self.inner), Direction(self.inner, self.outer))
        return True

    @property
    def done(self) -> bool:
        return self.ways is not None and all(way.shut for way in self.ways)

    def close(self, reset: bool = False) -> None:
        if reset:  # the app refused: the router sees a failed connection, and tries another
            self.outer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_NONE)
        for way in self.ways or ():
            way.close()
        self.outer.close()
        self.inner.close()


class Forwarder:
    """The event loop: one epoll over the listener and every connection's two sockets.

    Edge-triggered: an event on either socket of a connection pumps both its directions
    until neither can move; each then waits for what it stopped on (its source readable, or
    its target writable), which is an edge to come."""

    def __init__(self, listener: socket.socket, port: int) -> None:
        self.listener = listener
        self.target = ("127.0.0.1", port)
        self.poll = select.epoll()
        self.owners: dict[int, Connection] = {}

    def run(self) -> None:
        self.listener.setblocking(False)
        self.poll.register(self.listener.fileno(), select.EPOLLIN)
        while True:
            for fd, events in self.poll.poll():
                if fd == self.listener.fileno():
                    self.accept()
                elif fd in self.owners:
                    self.handle(self.owners[fd], events)

    def accept(self) -> None:
        while True:
            try:
                outer, _ = self.listener.accept()
            except OSError:  # none left (BlockingIOError), or out of descriptors
                return
            inner = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            conn = Connection(outer, inner)
            for sock in (outer, inner):
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.owners[sock.fileno()] = conn
                self.poll.register(sock.fileno(), EVENTS)
            inner.connect_ex(self.target)  # at once on loopback, or an event when done
            self.handle(conn, 0)

    def handle(self, conn: Connection, events: int) -> None:
        try:
            if not conn.connected():
                return
        except OSError:  # the app is not listening (yet, or any more)
            self.drop(conn, reset=True)
            return
        assert conn.ways is not None
        try:
            if events & select.EPOLLERR:
                raise OSError("reset")
            for way in conn.ways:
                way.pump()
        except OSError:  # a broken connection: closed, both, as pasta does
            self.drop(conn)
            return
        if conn.done:
            self.drop(conn)

    def drop(self, conn: Connection, reset: bool = False) -> None:
        for sock in (conn.outer, conn.inner):
            if self.owners.pop(sock.fileno(), None) is not None:
                self.poll.unregister(sock.fileno())
        conn.close(reset)


def main(argv: list[str]) -> None:
    fd, port = int(argv[1]), int(argv[2])
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # six a connection
    with contextlib.suppress(KeyboardInterrupt):
        Forwarder(socket.socket(fileno=fd), port).run()


if __name__ == "__main__":
    main(sys.argv)
