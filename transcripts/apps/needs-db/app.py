"""The app of transcripts/debugging.txt: it will not start without DATABASE_URL."""

import http.server
import os
import sys

# on stderr, like the failure below: two pipes would not keep their order in the log
print("starting", file=sys.stderr, flush=True)
if "DATABASE_URL" not in os.environ:
    raise SystemExit("DATABASE_URL is not set")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


print("connected to", os.environ["DATABASE_URL"], flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
