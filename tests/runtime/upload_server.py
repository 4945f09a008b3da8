"""A tiny HTTP server on 127.0.0.1 that receives uploads in chunks, for the upload tests."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class UploadServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, drop_first: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.drop_first = drop_first
        self.attempts = 0
        self.received: list[dict[str, object]] = []
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/upload"

    def __enter__(self) -> UploadServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: UploadServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.server.attempts += 1
        if self.server.attempts <= self.server.drop_first:
            self.rfile.read(1024)
            self.close_connection = True
            return
        remaining = int(self.headers["Content-Length"])
        digest = hashlib.sha256()
        while remaining:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
        record = {
            "sha256": digest.hexdigest(),
            "claimed": self.headers["X-Checksum-Sha256"],
            "key": self.headers["Idempotency-Key"],
        }
        self.server.received.append(record)
        body = json.dumps(record).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
