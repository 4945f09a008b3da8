"""A loopback TCP proxy that can stall connections (stop forwarding, keep them open) and drop
them — for testing how clients notice dead links. Runs its own event loop in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class _Link:
    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.flowing = asyncio.Event()
        self.flowing.set()


class Proxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host, self.target_port = host, target_port
        self.port = 0
        self.accepted = 0
        self._links: set[_Link] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Proxy:
        self._thread.start()
        self._call(self._listen)
        return self

    def stop(self) -> None:
        self.drop()
        self._call(self._close_server)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def stall(self) -> None:
        """Stop forwarding bytes, both ways, on the connections open now; they stay open.
        Connections made later flow normally."""
        self._call(lambda: self._set_flowing(False))

    def resume(self) -> None:
        self._call(lambda: self._set_flowing(True))

    def drop(self) -> None:
        """Reset every open connection (RST, no close handshake)."""
        self._call(self._abort_all)

    @property
    def open_connections(self) -> int:
        return int(self._call(lambda: len(self._links)))

    def _call(self, fn: Callable[[], Any]) -> Any:
        async def run() -> Any:
            result = fn()
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_server(self) -> None:
        if self._server is not None:
            self._server.close()

    def _set_flowing(self, flowing: bool) -> None:
        for link in self._links:
            if flowing:
                link.flowing.set()
            else:
                link.flowing.clear()

    def _abort_all(self) -> None:
        for link in list(self._links):
            for writer in link.writers:
                sock = writer.get_extra_info("socket")
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
        self._links.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        link = _Link()
        link.writers = [writer, up_writer]
        self._links.add(link)
        await asyncio.gather(
            self._pipe(link, reader, up_writer),
            self._pipe(link, up_reader, writer),
            return_exceptions=True,
        )
        self._links.discard(link)
        for w in link.writers:
            w.transport.abort()

    @staticmethod
    async def _pipe(
        link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while data := await reader.read(65536):
            await link.flowing.wait()
            writer.write(data)
            await writer.drain()
        writer.transport.abort()
