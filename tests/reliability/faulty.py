"""A small HTTP server on 127.0.0.1 that answers every request with a chosen fault."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_WAIT = 30.0

Behaviour = Callable[["_Handler"], None]


class FaultyServer:
    """``server.behaviour = answer(500, b"...")``; every request gets it."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.behaviour: Behaviour = answer(200, b"{}")
        self.requests = 0
        self.tls_versions: list[str] = []
        self.release = threading.Event()
        server = self

        class Handler(_Handler):
            owner = server

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self.scheme = "https"
            self._http.socket = tls.wrap_socket(self._http.socket, server_side=True)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://localhost:{self._http.server_address[1]}"

    def start(self) -> FaultyServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    owner: FaultyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _serve(self) -> None:
        self.owner.requests += 1
        if isinstance(self.connection, ssl.SSLSocket):
            self.owner.tls_versions.append(str(self.connection.version()))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.owner.behaviour(self)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve


def answer(status: int, body: bytes, content_type: str = "application/json") -> Behaviour:
    def behave(handler: _Handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return behave


def silent() -> Behaviour:
    """Read the request, never answer (until the server stops)."""

    def behave(handler: _Handler) -> None:
        handler.owner.release.wait(MAX_WAIT)
        handler.close_connection = True

    return behave


def stalled_body() -> Behaviour:
    """Send the headers and part of the body, then nothing more."""

    def behave(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.write(b'[{"name": ')
        handler.wfile.flush()
        handler.owner.release.wait(MAX_WAIT)
        handler.close_connection = True

    return behave


def hang_up() -> Behaviour:
    """Close the connection without a word."""

    def behave(handler: _Handler) -> None:
        handler.close_connection = True

    return behave
