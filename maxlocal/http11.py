"""The HTTP/1.1 protocol maxlocal serves with: h11, with a cap on a request's head.

A request line plus headers over ``HEAD_LIMIT`` bytes is answered ``431`` with the
API's error body and the connection closed, as soon as that many bytes have come
without the end of the head: the platform never holds a longer head in memory.

A connection closed while the client is still sending (a 413 before the body, a 431 before
the end of the head) is closed the way nginx does it, lingering: the answer is sent and the
sending side shut, then what still comes is read and dropped for up to ``LINGER_S`` or
``LINGER_BYTES``. Closed at once, the kernel would answer the client's next bytes with a
reset, and a reset makes the client's kernel drop the answer it had not read yet.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_LIMIT = 32 * 1024
_END_OF_HEAD = b"\r\n\r\n"
LINGER_S = 5.0
LINGER_BYTES = 64 * 1024 * 1024


def _refusal() -> bytes:
    body = json.dumps(
        {
            "error": {
                "code": "headers_too_large",
                "message": f"the request line and headers are over {HEAD_LIMIT} bytes",
                "hint": "send fewer or shorter headers",
            }
        }
    ).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class _LingeringTransport:
    """The connection's transport for uvicorn, whose ``close()`` lingers while the client is
    still sending a body; everything else is the real transport's."""

    def __init__(self, transport: asyncio.Transport, protocol: LimitedH11Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self.lingering = False
        self.dropped = 0

    def close(self) -> None:
        if not self.lingering and self._protocol.conn.their_state is h11.SEND_BODY:
            self.linger()
        elif not self.lingering:
            self._transport.close()

    def linger(self) -> None:
        """Shut the sending side once what is written has gone; read and drop the rest."""
        if self.lingering or self._transport.is_closing():
            return
        self.lingering = True
        if self._transport.can_write_eof():
            self._transport.write_eof()
        self._transport.resume_reading()
        asyncio.get_running_loop().call_later(LINGER_S, self._transport.close)

    def drop(self, data: bytes) -> None:
        self.dropped += len(data)
        if self.dropped > LINGER_BYTES:
            self._transport.close()

    def is_closing(self) -> bool:
        return self.lingering or self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LimitedH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._lingering = _LingeringTransport(transport, self)
        super().connection_made(self._lingering)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self._lingering.lingering:
            self._lingering.drop(data)
            return
        if self.conn.their_state is h11.IDLE and self._head_too_long(data):
            self.transport.write(_refusal())
            self._lingering.linger()
            return
        super().data_received(data)

    def _head_too_long(self, data: bytes) -> bool:
        pending = self.conn.trailing_data[0] + data
        end = pending.find(_END_OF_HEAD, 0, HEAD_LIMIT + len(_END_OF_HEAD))
        return end == -1 and len(pending) > HEAD_LIMIT
