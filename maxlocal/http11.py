"""The HTTP/1.1 protocol maxlocal serves with: h11, with a cap on a request's head.

A request line plus headers over ``HEAD_LIMIT`` bytes is answered ``431`` with the
API's error body and the connection closed, as soon as that many bytes have come
without the end of the head: the platform never holds a longer head in memory.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_LIMIT = 32 * 1024
_END_OF_HEAD = b"\r\n\r\n"


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


class LimitedH11Protocol(H11Protocol):
    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._head_too_long(data):
            self.transport.write(_refusal())
            self.transport.close()
            return
        super().data_received(data)

    def _head_too_long(self, data: bytes) -> bool:
        pending = self.conn.trailing_data[0] + data
        end = pending.find(_END_OF_HEAD, 0, HEAD_LIMIT + len(_END_OF_HEAD))
        return end == -1 and len(pending) > HEAD_LIMIT
