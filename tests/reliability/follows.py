"""Following an app's log with the real ``rig logs -f -o json``, and checking what it showed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.cli import ROOT, Rig, base_env

LINES_PER_S = 20

TICKER = f"""\
import http.server, itertools, os, sys, threading, time
def tick():
    for n in itertools.count(1):
        print(f"tick {{n}}", flush=True)
        time.sleep({1 / LINES_PER_S})
threading.Thread(target=tick, daemon=True).start()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def start_follower(rig: Rig, index: int, tmp: Path) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp / f"follow-{index}.ndjson"
    env = {**base_env(rig.config_dir), **rig.env}
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rig", "logs", "app", "ticker", "--network", "live",
             "-f", "-o", "json"],
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.PIPE, env=env, cwd=ROOT,
        )  # fmt: skip
    return proc, out


def check_follow(path: Path) -> tuple[int, int, int]:
    """(lines, lost, doubled) of one follower's output: seqs must run on with no gap."""
    seqs, skipped = [], 0
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if "seq" in record:
            seqs.append(int(record["seq"]))
        skipped += int(record.get("skipped") or 0)
    if not seqs:
        return 0, skipped, 0
    doubled = len(seqs) - len(set(seqs))
    lost = (max(seqs) - min(seqs) + 1) - len(set(seqs)) + skipped
    return len(seqs), lost, doubled
