"""Small apps that tests deploy to the real platform."""

from __future__ import annotations

import textwrap

# Answers every GET with $GREETING (default "hello"); prints "up" once it listens.
GREETING_APP = textwrap.dedent(
    """
    import http.server, os

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = os.environ.get("GREETING", "hello").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    print("up", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
    """
)
