"""The app the router's tests and bench deploy (stdlib only: it runs on the release's own Python).

GET /hello: its port; GET /sse: five events a second apart; GET /big?mb=N: N MiB streamed;
POST /upload: the body's length and sha256 (POST /upload?slow: read slower than it comes);
GET /ws: a WebSocket that echoes text frames and answers a close with a close (RFC 6455, by
hand).
"""

import base64
import hashlib
import http.server
import os
import socket
import struct
import time

PORT = int(os.environ["PORT"])
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CHUNK = b"x" * (1 << 20)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def reply(self, body, kind="text/plain"):
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:  # the client asked (Connection: close): say it is done
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.split("?")[0] == "/hello":
            rid = self.headers.get("X-Request-Id", "")
            self.reply(f"hello from {PORT} id={rid}\n".encode())
        elif self.path == "/headers":
            self.reply("".join(f"{k}: {v}\n" for k, v in self.headers.items()).encode())
        elif self.path == "/sse":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for n in range(5):
                self.wfile.write(f"data: {n} {time.time()}\n\n".encode())
                self.wfile.flush()
                time.sleep(1)
            self.close_connection = True
        elif self.path.startswith("/big?mb="):
            size = int(self.path.split("=", 1)[1])
            self.send_response(200)
            self.send_header("Content-Length", str(size << 20))
            self.end_headers()
            for _ in range(size):
                self.wfile.write(CHUNK)
        elif self.path == "/ws":
            self.websocket()
        else:
            self.send_error(404)

    def do_POST(self):
        left = int(self.headers["Content-Length"])
        digest, total = hashlib.sha256(), 0
        slow = self.path.endswith("?slow")
        while left:
            if slow:
                time.sleep(0.002)
            data = self.rfile.read(min(left, 1 << 16))
            if not data:
                break
            digest.update(data)
            total += len(data)
            left -= len(data)
        self.reply(f"{total} {digest.hexdigest()}\n".encode())

    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, size = head[0] & 0x0F, head[1] & 0x7F
            if size == 126:
                size = struct.unpack(">H", self.rfile.read(2))[0]
            elif size == 127:
                size = struct.unpack(">Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(size)))
            if opcode == 8:
                self.frame(8, data[:2])
                self.close_connection = True
                return
            if opcode == 1:
                self.frame(1, b"echo: " + data)

    def frame(self, opcode, data):
        size = len(data)
        head = bytes([0x80 | opcode, size])
        if size >= 126:
            head = bytes([0x80 | opcode, 126]) + struct.pack(">H", size)
        self.wfile.write(head + data)
        self.wfile.flush()


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024  # the bench's concurrency 100

    def server_bind(self):
        if os.environ.get("REUSEPORT"):  # a test lets another listener share the port
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


print("listening on", PORT, flush=True)
Server(("127.0.0.1", PORT), Handler).serve_forever()
