"""Builds the ASGI app from its parts and serves it on a loopback socket."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from maxlocal.admin import ensure_bootstrap, prepare_data_dir, write_private_json
from maxlocal.api import (
    apps,
    audit,
    auth,
    device,
    env,
    errors,
    health,
    lifecycle,
    logs,
    metrics,
    networks,
    plans,
    registries,
    releases,
    status,
)
from maxlocal.api.guards import FrameGuard, HostCheck, platform_hosts
from maxlocal.api.limits import BodyLimit
from maxlocal.api.schemas import ErrorBody
from maxlocal.auth import DEFAULT_ACCESS_TTL, DEFAULT_REFRESH_TTL, TOKEN_PREFIXES, Auth
from maxlocal.crypto import Vault
from maxlocal.edge import haproxy
from maxlocal.edge.routes import RouteTable
from maxlocal.http11 import HEAD_LIMIT, LimitedH11Protocol
from maxlocal.layout import DEFAULT_KEEP_ENVS, Layout
from maxlocal.live import Live
from maxlocal.platform import Platform, RuntimeOptions, Settings
from maxlocal.realtime import SocketEndpoint
from maxlocal.remote.access import EXEC_TOPICS, RemoteAccess
from maxlocal.runtime.artifacts import MAX_ARCHIVE_BYTES
from maxlocal.runtime.cgroups import Cgroups
from maxlocal.runtime.driver import DEFAULT_KEEP_RELEASES, DEFAULT_RUNTIME
from maxlocal.runtime.logstore import DEFAULT_LIMIT, DEFAULT_LIMIT_BYTES
from maxlocal.runtime.router import ASGIApp, HostRouter
from maxlocal.store.db import Database
from maxlocal.strays import marker_for

PREFIX = "/api/v1"
SERVER_FILE = "server.json"
LOCK_FILE = "server.lock"
SOCKET_MESSAGE_LIMIT = 2 * 1024 * 1024
"""The largest message a socket client may send (a larger one closes the connection, 1009):
rig's stdin frames are 64 KiB; a 10 MiB one would be held whole before any check."""

log = logging.getLogger("maxlocal")


@dataclass
class ServeOptions:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    access_ttl: int = DEFAULT_ACCESS_TTL
    refresh_ttl: int = DEFAULT_REFRESH_TTL
    max_upload_bytes: int = MAX_ARCHIVE_BYTES
    log_limit: int = DEFAULT_LIMIT
    health_timeout: float = 30.0
    cache_dir: Path | None = None
    keep_envs: int = DEFAULT_KEEP_ENVS
    isolation: str = "auto"
    device_code_ttl: int = Settings.device_code_ttl
    log_bytes: int = DEFAULT_LIMIT_BYTES
    keep_releases: int = DEFAULT_KEEP_RELEASES
    limits: bool = True
    router: str = "auto"
    """``auto``: HAProxy as the edge when installed, else the in-process router;
    ``in-process``: the in-process router always."""
    runtime: str = DEFAULT_RUNTIME
    """The runtime driver that runs the apps (``runtime.driver.names()``)."""


class AlreadyRunning(Exception):
    pass


class NotLoopback(Exception):
    pass


def build_app(platform: Platform, edge: haproxy.Edge | None = None) -> ASGIApp:
    """The API, with the router that sends ``<app>.<network>.localhost`` to the apps: the
    ``edge`` (HAProxy, its own process in front of this app), else the in-process router
    wrapping it. Both read one route table.

    Its lifespan recovers the runtime (strays, half-done releases, apps to resume) at
    start-up and stops every app process at shut-down. The realtime socket is at
    ``/socket/websocket``."""
    live = Live.build(platform)
    remote = RemoteAccess.build(platform)
    table = RouteTable(platform.runtime)
    # first of the listeners: a crashed instance leaves the route table before anything else
    platform.runtime.state_listeners.insert(0, table.on_state)
    router: HostRouter | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        live.pubsub.bind(asyncio.get_running_loop())
        await asyncio.to_thread(platform.runtime.reconcile)
        await asyncio.to_thread(table.start)
        try:
            yield
        finally:
            if router is not None:
                await router.aclose()
            await asyncio.to_thread(table.close)
            await asyncio.to_thread(remote.close)
            await asyncio.to_thread(platform.runtime.close)

    app = FastAPI(
        title="Max API",
        version=health.API_VERSION,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.platform = platform
    errors.install(app)
    error = {"model": ErrorBody, "description": 'Any error: {"error": {"code", "message", "hint"}}'}
    routers = (
        health,
        auth,
        networks,
        apps,
        env,
        releases,
        registries,
        plans,
        lifecycle,
        status,
        logs,
    )
    for module in routers:
        app.include_router(module.router, prefix=PREFIX, responses={"default": error})
    app.include_router(metrics.router)
    app.include_router(device.router)
    app.include_router(
        audit.router(remote.audit, remote.sessions), prefix=PREFIX, responses={"default": error}
    )
    socket = SocketEndpoint(
        authenticate=live.authenticate,
        recheck=live.recheck,
        authorize=live.authorize,
        handlers={**live.handlers, EXEC_TOPICS: remote.handler},
    )
    app.router.routes.append(socket.route())
    platform.auth.on_revoke(socket.revoke)
    app.add_middleware(BodyLimit, exempt=releases.is_upload)
    app.add_middleware(FrameGuard)
    app.add_middleware(
        HostCheck, hosts=platform_hosts(platform.settings.domain, platform.settings.host)
    )
    app.add_middleware(errors.CatchAll)
    app.state.metrics = metrics.Metrics(platform, table.served, table.latency)
    if edge is not None:
        table.listeners.append(edge.apply)
        edge.sink = _access_sink(platform, table)
        return app
    router = HostRouter(app, table.resolve)
    router.served = table.served
    return router


def _access_sink(platform: Platform, table: RouteTable) -> haproxy.AccessSink:
    def sink(app: str, lines: list[str], durations: list[float]) -> None:
        network, name = app.split("/", 1)
        table.served[(network, name)] += len(lines)
        latency = table.latency[(network, name)]
        for seconds in durations:
            latency.observe(seconds)
        platform.runtime.access_lines(app, lines)

    return sink


def open_edge(
    choice: str, data_dir: Path, public: socket.socket
) -> tuple[haproxy.Edge | None, socket.socket, dict[str, str]]:
    """The edge in front of the API when ``choice`` allows and HAProxy is installed and
    starts: (edge, the API's private socket, what to report); else (None, ``public``, why
    the in-process router serves)."""
    if choice == "in-process":
        return None, public, {"mode": "in-process", "detail": "asked for (--router in-process)"}
    binary = haproxy.find()
    if binary is None:
        why = "HAProxy is not installed (scripts/install-system-deps installs it)"
        return None, public, {"mode": "in-process", "detail": why}
    api = bind(loopback_address("127.0.0.1"), 0)
    edge = haproxy.Edge(binary, data_dir / "router", public, api.getsockname()[1], lambda *_: None)
    try:
        edge.start()
    except (RuntimeError, OSError) as exc:
        edge.close()
        api.close()
        log.error("%s", exc)
        return None, public, {"mode": "in-process", "detail": f"HAProxy failed to start: {exc}"}
    return edge, api, edge.describe()


def open_platform(data_dir: Path, options: ServeOptions, app_port: int) -> Platform:
    db = Database.open(data_dir)
    platform_auth = Auth(db, access_ttl=options.access_ttl, refresh_ttl=options.refresh_ttl)
    ensure_bootstrap(platform_auth, data_dir)
    settings = Settings(
        host=options.host,
        app_port=app_port,
        max_upload_bytes=options.max_upload_bytes,
        device_code_ttl=options.device_code_ttl,
    )
    runtime = RuntimeOptions(
        Layout(data_dir, options.cache_dir, options.keep_envs),
        log_limit=options.log_limit,
        log_bytes=options.log_bytes,
        health_timeout=options.health_timeout,
        isolation=options.isolation,
        keep_releases=options.keep_releases,
        cgroups=Cgroups.detect(marker_for(data_dir), enable=options.limits),
        driver=options.runtime,
    )
    return Platform.build(db, platform_auth, Vault.open(data_dir), settings, runtime)


def loopback_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        ip = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError as e:
        raise NotLoopback(f"refusing to listen on {host!r}: give a loopback IP address") from e
    if not ip.is_loopback:
        raise NotLoopback(f"refusing to listen on {host}: maxlocal binds loopback addresses only")
    return ip


def bind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> socket.socket:
    """A socket bound to ip:port, ready to listen; port 0 picks a free one."""
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((str(ip), port))
    sock.set_inheritable(False)
    return sock


def url_for(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def lock_data_dir(data_dir: Path) -> int:
    """Take the data directory's server lock for this process's lifetime."""
    import fcntl

    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as e:
        os.close(fd)
        running = ""
        with contextlib.suppress(OSError, ValueError, KeyError):
            info = json.loads((data_dir / SERVER_FILE).read_text())
            running = f" at {info['url']} (pid {info['pid']})"
        raise AlreadyRunning(f"a maxlocal server is already running for {data_dir}{running}") from e
    return fd


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, server_file: Path, info: dict[str, object]) -> None:
        super().__init__(config)
        self.server_file = server_file
        self.info = info

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            # What is here now stays for the process's life (modules, the app, the recovered
            # runtime: ~70,000 objects): frozen, the cyclic GC no longer walks it. A full
            # collection over it took ~40 ms of CPU (~150 ms on a busy machine) and, falling at
            # random, held every log line on its way to ``rig logs -f`` meanwhile. The garbage
            # of the start-up goes first (frozen, it would never be collected), before the
            # server file tells clients the platform is there.
            gc.collect()
            gc.freeze()
            self.info["started_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            await asyncio.to_thread(write_private_json, self.server_file, self.info)
            log.info("maxlocal serving at %s", self.info["url"])


def serve(options: ServeOptions) -> None:
    """Serve until SIGINT or SIGTERM; raises AlreadyRunning or NotLoopback before starting."""
    ip = loopback_address(options.host)
    data_dir = prepare_data_dir(options.data_dir)
    lock_fd = lock_data_dir(data_dir)
    sock = bind(ip, options.port)
    server_file = data_dir / SERVER_FILE
    port = sock.getsockname()[1]
    platform = open_platform(data_dir, options, app_port=port)
    edge, api_sock, router_info = open_edge(options.router, data_dir, sock)
    config = uvicorn.Config(
        build_app(platform, edge),
        log_config=None,
        timeout_graceful_shutdown=5,
        lifespan="on",
        server_header=False,
        http=LimitedH11Protocol,
        h11_max_incomplete_event_size=HEAD_LIMIT,
        ws_max_size=SOCKET_MESSAGE_LIMIT,
    )
    driver = platform.runtime.describe()
    log.info("runtime: %s (%s)", driver.name, driver.detail)
    for line in driver.log_lines:
        log.info("%s", line)
    log.info("router: %s (%s)", router_info["mode"], router_info["detail"])
    platform.settings.router = router_info
    info: dict[str, object] = {
        "pid": os.getpid(),
        "url": url_for(sock),
        "port": port,
        "runtime": driver.runtime(),
        "isolation": driver.isolation,
        "limits": driver.limits,
        "router": router_info,
    }
    server = _Server(config, server_file, info)

    # Until uvicorn takes over, a signal asks it to stop as soon as it starts. Once
    # it has shut down, uvicorn re-raises the signal that stopped it, which these
    # handlers absorb, so a signal ends in a clean exit.
    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    try:
        server.run(sockets=[api_sock])
    finally:
        if edge is not None:
            edge.close()
            api_sock.close()
        with contextlib.suppress(FileNotFoundError, ValueError):
            if json.loads(server_file.read_text()).get("pid") == os.getpid():
                server_file.unlink()
        os.close(lock_fd)
        sock.close()


# A token's value wherever it shows: a query parameter (the socket's ``?token=``), a bearer
# header, or any of the platform's prefixed tokens (access, refresh, API, device code).
_SECRETS = re.compile(
    r"(?i)(\b(?:token|access_token|refresh_token|device_code|password)=)[^&\s\"']+"
    r"|(\bbearer\s+)\S+"
    rf"|\b({'|'.join(map(re.escape, TOKEN_PREFIXES))})[A-Za-z0-9_\-]+"
)


def redact(text: str) -> str:
    """``text`` with every token value replaced by ``[redacted]``."""
    return _SECRETS.sub(lambda m: f"{m.group(1) or m.group(2) or m.group(3)}[redacted]", text)


class RedactingFormatter(logging.Formatter):
    """The one formatter of the server's log: request lines (uvicorn's, the socket's
    ``?token=``), messages and tracebacks all pass through ``redact``."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)
