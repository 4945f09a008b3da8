"""HAProxy as the platform's edge: its own process on the platform's port, the API behind it.

Why HAProxy rather than a Python proxy: on two cores a Python splice proxy competes with the
app and the load generator for CPU and could not keep 0.8x of the app's throughput at
concurrency 100; HAProxy (Debian's 2.6) adds well under a millisecond and brings keep-alive,
pipelining, WebSockets, streaming, header and idle limits and access logs, all maintained.

How it is driven: the platform binds the public socket (loopback check, port 0) and hands it
over as ``fd@N``. The frontend reads each connection's first request head: a connection for
``<app>.<network>.localhost`` (or with a target that is no path) switches to HTTP
(``switch-mode http``) and each of its requests goes to the backend the map names (host →
the app's backend, one of a pre-declared pool: ``edge.pool``); every other connection is
passed to the
API on a private loopback port as bytes, so the API's own limits and answers (431, 413, its
timeouts, the realtime socket) are exactly as without the edge. Each app's backend holds one
server per verified instance and balances by least connections; a request an instance refused
or dropped unanswered is retried on another (``_pool`` says what is and is not). Map and
servers change through the runtime API on a unix socket (``set/add/del map``, ``add/del
server``): no reload, open connections untouched. Access lines come on HAProxy's stdout, one
per routed request, and go to the app's log (stream ``router``). If HAProxy dies it is
started again with the current table.

Each request gets a connection of its own to the app, closed after the answer (``option
http-server-close``; the visitor's side keeps alive). Measured with the stdlib server most
small apps start from: without it the app read on, waiting for a second request that never
came, and spent 2.7x the CPU per request (1,072 vs 402 us); reusing idle connections
(``http-reuse always``) halved that but met Nagle's algorithm in apps that write a head and
a body apart (40 ms delayed ACKs: 186 req/s). One thread: on a small machine the app needs
the cores more than HAProxy (~160 us of CPU per request with its access line).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from maxlocal.edge.pool import Pool, instance_of
from maxlocal.edge.routes import Routes
from maxlocal.http11 import HEAD_LIMIT
from maxlocal.runtime.router import (
    BAD_GATEWAY,
    BAD_TARGET,
    GATEWAY_TIMEOUT,
    NOT_SERVING,
    parse_host,
)

log = logging.getLogger("maxlocal")

HEAD_BUFFER = 2 * HEAD_LIMIT
"""``tune.bufsize``: a request head larger than about this is refused with 400 here. Twice the
API's own limit, so that a head over that reaches the API and gets its 431 (JSON)."""
MAX_HEADERS = HEAD_LIMIT // 4
"""``tune.http.maxhdr``: as many as fit the API's limit, which is the one that bites."""
API_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Timeouts:
    """The edge's limits on the traffic of apps, in seconds (docs/architecture.md)."""

    head: float = 10
    """A request head must be whole within this (else the connection goes to the API's parser,
    which answers it)."""
    connect: float = 5
    """An instance that neither accepts nor refuses a connection for this long: tried again on
    another instance, at last a 503."""
    server: float = 60
    """An app that sends nothing for this long (before its first byte, or silent later) gets
    a 504 (or its response is cut there); the request is not retried."""
    client: float = 60
    """A visitor that sends nothing, or reads nothing of the answer, for this long is closed.
    Meanwhile the edge holds no more than its buffers for it: the app's writes wait."""
    keep_alive: float = 10
    """An idle kept-alive visitor connection is closed after this."""
    tunnel: float = 3600
    """A WebSocket (or other upgraded connection) silent both ways for this long is closed."""


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


RETRIES = 3
RETRIED_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "DELETE")
"""Idempotent methods (RFC 9110 9.2.2): retried on another instance even after being sent."""
POOL = 256
"""Apps that can be routed at once (one HAProxy backend each); more get the 503 page."""
SLOTS = tuple(f"app{n}" for n in range(1, POOL + 1))
LOG_FIELDS = (
    "%[var(txn.host)] %[var(txn.id)] %[var(txn.method)] %[var(txn.path)] %[var(txn.status)] "
    "%B %[date(0,us),sub(txn.start)] %ci %s"
)
"""What HAProxy writes per routed request (the query string is left out: it may hold secrets).
The duration is in microseconds from the request head's arrival to the answer's last byte
(``%Tt`` would count the wait for the request on a kept-alive connection too)."""

AccessSink = Callable[[str, list[str], list[float]], None]
"""``sink(app_key, lines, seconds)``: access lines for an app's log, and each request's
duration."""


def find() -> str | None:
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")


def version(binary: str) -> str:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10).stdout
    words = out.split()
    return words[2] if len(words) > 2 else "?"


def _lf(template: str) -> str:
    """A page of ``runtime.router`` as a HAProxy log-format string, names from the Host."""
    return _quoted(
        template.format(
            host="%[var(txn.host)]",
            app="%[var(txn.host),field(1,.)]",
            network="%[var(txn.host),field(2,.)]",
        )
    )


def _quoted(text: str) -> str:
    """``text`` as one double-quoted word of HAProxy's configuration."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render(
    fd: int, api_port: int, folder: Path, admin: Path, timeouts: Timeouts = Timeouts()
) -> str:
    """The whole configuration: written once at start; routes change through the map and the
    runtime API's ``add/del server``."""
    map_file = folder / "routes.map"
    app_host = r"^[^.:]+\.[^.:]+\.localhost\.?$"
    return f"""\
global
    log stdout format raw local0 info
    stats socket {admin} mode 600 level admin
    tune.bufsize {HEAD_BUFFER}
    tune.http.maxhdr {MAX_HEADERS}
    maxconn 4096
    nbthread 1

defaults
    mode http
    log global
    option dontlognull
    timeout connect {_ms(timeouts.connect)}
    timeout client {_ms(timeouts.client)}
    timeout server {_ms(timeouts.server)}
    timeout http-request {_ms(timeouts.head)}
    timeout http-keep-alive {_ms(timeouts.keep_alive)}
    timeout tunnel {_ms(timeouts.tunnel)}
    timeout client-fin 10s

frontend public
    mode tcp
    bind fd@{fd}
    log-format "{LOG_FIELDS}"
    tcp-request inspect-delay {_ms(timeouts.head)}
    tcp-request content set-var(txn.host) req.hdr(host),host_only,lower if HTTP
    acl app_host var(txn.host) -m reg {app_host}
    acl bad_target req.payload(0,64) -m reg ^[A-Za-z]+\\ [^/*]
    tcp-request content switch-mode http if app_host || bad_target
    tcp-request content set-log-level silent
    tcp-request content accept if HTTP
    # from here on only for connections switched to HTTP (app hosts), request by request
    http-request deny deny_status 400 content-type text/plain string {_lf(BAD_TARGET)} \
unless {{ url_beg / }} || {{ method OPTIONS }} {{ url * }}
    http-request set-var(txn.host) req.hdr(host),host_only,lower
    http-request set-var(txn.backend) var(txn.host),map({map_file})
    http-request set-var(txn.start) date(0,us)
    http-request set-var(txn.id) uuid
    http-request set-var(txn.method) method
    http-request set-var(txn.path) path
    http-after-response set-var(txn.status) status
    acl routed var(txn.backend) -m found
    http-request set-log-level info if routed
    http-request return status 503 content-type text/plain lf-string {_lf(NOT_SERVING)} \
unless routed
    http-request set-header X-Request-Id %[var(txn.id)]
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-header X-Forwarded-Proto http
    http-request del-header Forwarded
    http-request set-header Forwarded for=%[src];host=%[req.hdr(host)];proto=http
    http-request disable-l7-retry unless {{ method {" ".join(RETRIED_METHODS)} }}
    option forwardfor
    use_backend %[var(txn.backend)] if routed
    default_backend api

{_pool()}

backend api
    mode tcp
    timeout server {API_TIMEOUT_S}s
    server api 127.0.0.1:{api_port}
"""


def _pool() -> str:
    """``POOL`` backends, one per routed app (the map names an app's): HAProxy 2.6 cannot add
    backends at run time, but it can add servers to one (``add server``), one per instance.

    A connection refused by an instance, or closed without an answer (it died meanwhile), is
    tried again on another (``retries``, ``option redispatch 1``: every retry picks anew, the
    failed server avoided). Not retried: a request already answered in part; one the app has
    been working on when ``timeout server`` struck (it may be costly, and would be repeated on
    every instance before the 504); a request with a body larger than HAProxy's buffer; and,
    other than for a refused connection, a method that is not idempotent (``RETRIED_METHODS``:
    the app may have acted on it before dying)."""
    backend = f"""\
    mode http
    balance leastconn
    option http-server-close
    retries {RETRIES}
    option redispatch 1
    retry-on conn-failure empty-response
    http-error status 502 content-type text/plain lf-string {_lf(BAD_GATEWAY)}
    http-error status 503 content-type text/plain lf-string {_lf(BAD_GATEWAY)}
    http-error status 504 content-type text/plain lf-string {_lf(GATEWAY_TIMEOUT)}
"""
    return "\n".join(f"backend {slot}\n{backend}" for slot in SLOTS)


class Edge:
    """One HAProxy process serving ``public`` (a bound socket) in front of the API."""

    def __init__(
        self,
        binary: str,
        folder: Path,
        public: socket.socket,
        api_port: int,
        sink: AccessSink,
        timeouts: Timeouts = Timeouts(),
    ) -> None:
        self.binary = binary
        self.timeouts = timeouts
        self.folder = folder
        self.public = public
        self.api_port = api_port
        self.sink = sink
        self.version = version(binary)
        self.proc: subprocess.Popen[bytes] | None = None
        self._entries: dict[str, str] = {}
        self._pool = Pool(SLOTS)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._watcher: threading.Thread | None = None
        # The runtime API's socket: in a private directory of its own under the system's
        # temporary one, since a unix socket's path is limited to 107 bytes.
        self.admin = Path(tempfile.mkdtemp(prefix="maxlocal-edge-")) / "admin.sock"

    def describe(self) -> dict[str, str]:
        pid = self.proc.pid if self.proc else "?"
        return {"mode": "haproxy", "detail": f"HAProxy {self.version}, pid {pid}"}

    def start(self) -> None:
        """Start HAProxy and wait until its runtime API answers; RuntimeError if it cannot."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            self.public.listen(1024)
        (self.folder / "haproxy.cfg").write_text(
            render(self.public.fileno(), self.api_port, self.folder, self.admin, self.timeouts)
        )
        self._write_map()
        proc = self._spawn()
        self._watcher = threading.Thread(target=self._supervise, args=(proc,), daemon=True)
        self._watcher.start()
        threading.Thread(target=self._sweep, name="edge-sweep", daemon=True).start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self._lock:  # no route change between the map it loads and its servers
            proc = self._launch()
            self._commands(self._pool.restarted())
        threading.Thread(target=self._errors, args=(proc,), daemon=True).start()
        return proc

    def _launch(self) -> subprocess.Popen[bytes]:
        self.admin.unlink(missing_ok=True)
        fd = self.public.fileno()
        self.proc = proc = subprocess.Popen(
            [self.binary, "-db", "-f", str(self.folder / "haproxy.cfg")],
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 10
        while not self._answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                proc.wait()
                raise RuntimeError(f"haproxy did not start: {err.strip()[-500:]}")
            time.sleep(0.02)
        return proc

    def apply(self, routes: Routes) -> None:
        """Make HAProxy's servers and map the route table (a ``RouteTable`` listener)."""
        with self._lock:
            commands = self._pool.apply(routes)
            entries = self._pool.hosts()
            commands += _map_commands(self.folder / "routes.map", self._entries, entries)
            self._entries = entries
            self._write_map()
            self._commands(commands)

    def _commands(self, commands: list[str]) -> None:
        """Send ``commands`` at once; HAProxy's complaints go to the platform's log."""
        if not commands:
            return
        for line in self._command(";".join(commands)).splitlines():
            if line.strip() and not line.startswith(("New server registered", "Server deleted")):
                log.warning("haproxy runtime API: %s", line.strip())

    def _sweep(self) -> None:
        """Delete drained servers (``Pool.sweep``) while the edge runs."""
        while not self._closing.wait(1.0):
            with self._lock, contextlib.suppress(OSError):
                self._pool.sweep(self._command)

    def close(self) -> None:
        self._closing.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._watcher is not None:
            self._watcher.join(5)
        shutil.rmtree(self.admin.parent, ignore_errors=True)

    def _write_map(self) -> None:
        path = self.folder / "routes.map"
        text = "".join(f"{host} {address}\n" for host, address in self._entries.items())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def _answers(self) -> bool:
        try:
            self._command("show info")
            return True
        except OSError:
            return False

    def _command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(5)
            conn.connect(str(self.admin))
            conn.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def _errors(self, proc: subprocess.Popen[bytes]) -> None:
        """HAProxy's stderr into the platform's log. Routine, not warnings: what our own runtime
        API commands made it say (``CLI``: a server added, enabled, put in maintenance), and
        2.6's note that the public frontend's HTTP rules need HTTP mode: they run only on the
        connections switched to it (``tests/router/test_router_protocols.py`` checks them)."""
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            routine = any(
                known in line
                for known in ("[NOTICE]", " : CLI : ", "format not usable with frontend 'public'")
            )
            log.log(logging.INFO if routine else logging.WARNING, "haproxy: %s", line)

    def _supervise(self, proc: subprocess.Popen[bytes]) -> None:
        """Pass on access lines while HAProxy runs; start it again (from this thread, which
        lives as long as the edge: HAProxy dies with the thread that started it) unless the
        platform is stopping."""
        while True:
            self._access(proc)
            proc.wait()
            if self._closing.is_set():
                return
            log.error("haproxy exited with code %s; starting it again", proc.returncode)
            while True:
                if self._closing.wait(1.0):
                    return
                try:
                    proc = self._spawn()
                    break
                except (RuntimeError, OSError) as exc:
                    log.error("%s", exc)

    def _access(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            while not chunk.endswith(b"\n"):
                more = os.read(fd, 65536)
                if not more:
                    break
                chunk += more
            by_app: dict[str, list[str]] = defaultdict(list)
            durations: dict[str, list[float]] = defaultdict(list)
            for raw in chunk.decode(errors="replace").splitlines():
                parsed = access_line(raw)
                if parsed is not None:
                    app, line, seconds = parsed
                    by_app[app].append(line)
                    durations[app].append(seconds)
            for app, lines in by_app.items():
                try:
                    self.sink(app, lines, durations[app])
                except Exception:
                    log.exception("access lines lost")


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the thread that started it ends (a platform
    killed with SIGKILL leaves no HAProxy holding its port)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _map_commands(path: Path, old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Runtime API commands that turn map ``old`` into ``new``."""
    commands = [f"del map {path} {host}" for host in old if host not in new]
    for host, address in new.items():
        if old.get(host) != address:
            commands.append(f"{'set' if host in old else 'add'} map {path} {host} {address}")
    return commands


def access_line(raw: str) -> tuple[str, str, float] | None:
    """(app key, line for its log, seconds it took) from one of HAProxy's lines
    (``LOG_FIELDS``)."""
    fields = raw.split(" ")
    if len(fields) != 9:
        return None
    host, request_id, method, path, status, size, micros, client, server = fields
    seconds = int(micros) / 1e6 if micros.isdigit() else 0.0
    target = parse_host(host)
    if target is None:
        return None
    network, app = target
    line = (
        f"method={method} path={path} status={status} bytes={size} duration={seconds * 1000:.3f}ms "
        f"request_id={request_id} fwd={client} instance={instance_of(server)}"
    )
    return f"{network}/{app}", line, seconds
