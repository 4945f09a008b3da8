"""Run releases as local processes: health checks, restarts with backoff, zero-downtime switches.

Every process of a release runs with ``/bin/sh -c`` in its own process group, in the
release directory, with the release's variables and, for ``web``, a ``PORT`` on
loopback. ``start`` returns once the new release is healthy (``web`` accepts TCP
connections on its port; without ``web``, every process is still up after a short
settle time) and only then moves the app to it and stops the previous release. A
process that exits before it is healthy fails the start at once.
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import psutil

from maxlocal.runtime.cgroups import Cgroup, Cgroups, Resources, disk_used, human_size
from maxlocal.runtime.listener import PortOwner, listening_inodes, namespace_listeners
from maxlocal.runtime.netns import Forwarder
from maxlocal.runtime.proc import child_env, pump_lines, spawn, terminate_group
from maxlocal.runtime.sandbox import Sandbox

WEB = "web"
TAIL_LINES = 20
DISK_CHECK_S = 5.0
"""How often a running app's home is measured against its disk limit."""


class State(StrEnum):
    CREATED = "created"
    BUILDING = "building"
    STARTING = "starting"
    RUNNING = "running"
    CRASHED = "crashed"
    STOPPED = "stopped"
    FAILED = "failed"


_SERVING = (State.RUNNING, State.CRASHED)


@dataclass(frozen=True)
class Release:
    """What to run. ``app`` is the app's key (e.g. ``"shop/api"``), ``number`` the release's."""

    app: str
    number: int
    path: Path
    processes: Mapping[str, str]
    env: Mapping[str, str] = field(default_factory=dict)
    home: Path | None = None
    """The app's own HOME (``Layout.home``); see ``proc.child_env``."""
    sandbox: Sandbox | None = None
    """What its processes run in (``runtime.sandbox``); None: isolation is off."""
    resources: Resources | None = None
    """Its limits (``rig.toml`` ``[resources]``), applied when the driver has ``cgroups``."""
    instances: int = 1
    """How many ``web`` processes run (``rig scale``), each on a port of its own; the other
    process types run once."""


class PortTaken(Exception):
    """Something listens on a web process's port, but not the process itself: another
    tenant took the port (see ``listener``); the platform never forwards to it."""

    def __init__(self, port: int) -> None:
        super().__init__(
            f"port {port} is held by a process that is not this release's own; "
            "the platform does not forward to it"
        )


class StartError(Exception):
    """A release did not become healthy. ``tail`` holds its last lines of output."""

    def __init__(self, message: str, exit_code: int | None = None, tail: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.tail = tail or []


@dataclass(frozen=True)
class AppStatus:
    state: State
    release: int | None = None
    restarts: int = 0
    started_at: str | None = None
    uptime_s: float | None = None
    pids: dict[str, int] = field(default_factory=dict)
    cpu_percent: float = 0.0
    memory_rss: int = 0
    port: int | None = None
    oom_kills: int = 0
    """Processes of the running release the kernel killed for its memory limit."""
    last_exit: str | None = None
    """How its last process to stop unasked stopped: ``web was killed: out of memory ...``."""
    limits: dict[str, object] | None = None
    """The limits it runs with (None: limits are off)."""
    instances: list[dict[str, Any]] = field(default_factory=list)
    """One entry per process of the release: ``{"name": "web.2", "type": "web", "pid": ..,
    "port": .., "healthy": ..}``."""

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "state": self.state.value}


class Driver(Protocol):
    """What the platform needs from a runtime; ``LocalProcessDriver`` is the local one."""

    def start(self, release: Release) -> AppStatus: ...
    def stop(self, app: str) -> None: ...
    def status(self, app: str) -> AppStatus: ...
    def port(self, app: str) -> int | None: ...
    def serving(self) -> list[str]: ...
    def verified_ports(self, app: str) -> list[tuple[str, int]]: ...
    def foreign_listener(self, app: str) -> bool: ...
    def close(self) -> None: ...


LogCallback = Callable[..., object]
LinesCallback = Callable[..., object]
StateCallback = Callable[[str, State, dict[str, Any]], object]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def describe_exit(code: int, oom_limit: int | None = None) -> str:
    """``exited with code 1``; with ``oom_limit`` (the kernel killed it for memory), ``was
    killed: out of memory (limit 512 MiB)``."""
    if oom_limit is not None:
        return f"was killed: out of memory (limit {human_size(oom_limit)})"
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"


class _Process:
    """One named process of a deployment, relaunched in place after a crash."""

    def __init__(
        self,
        driver: LocalProcessDriver,
        deployment: _Deployment,
        name: str,
        number: int = 1,
        port: int | None = None,
    ) -> None:
        self.driver = driver
        self.deployment = deployment
        self.name = name
        self.instance = f"{name}.{number}"
        """What its log lines, the status and the router's access lines name it (``web.2``)."""
        self.number = number
        self.command = deployment.release.processes[name]
        self.port = port
        self.owner = PortOwner(self.port) if self.port is not None else None
        network = deployment.network
        self.forwarder: Forwarder | None = (
            network.forward(port) if network is not None and port is not None else None
        )
        """What brings the host's loopback port into the app's network namespace: one per
        instance, since each listens on a port of its own."""
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.popen: subprocess.Popen[bytes] | None = None
        self.readers: list[threading.Thread] = []
        self.cgroup = deployment.group(self.instance)
        """Its own group with the app's limits: one instance that blows its memory limit is
        killed alone, the others serve on."""
        self.launched_at = 0.0
        self.lock = threading.Lock()
        self._usage: dict[int, psutil.Process] = {}

    def launch(self) -> bool:
        release = self.deployment.release
        env = child_env(release.env, release.path, home=release.home, port=self.port)
        env["MAX_INSTANCE"] = self.instance  # e.g. web.2: which of its type this one is
        with self.lock:
            if self.deployment.stopping.is_set():
                return False
            self.popen = spawn(
                self.command,
                release.path,
                env,
                merge_stderr=False,
                sandbox=release.sandbox,
                cgroup=self.cgroup,
            )
            self.launched_at = time.monotonic()
            assert self.popen.stdout is not None and self.popen.stderr is not None
            self.readers = [
                pump_lines(self.popen.stdout, self._lines("stdout"), f"{self.instance}-stdout"),
                pump_lines(self.popen.stderr, self._lines("stderr"), f"{self.instance}-stderr"),
            ]
        return True

    def _lines(self, stream: str) -> Callable[[list[str]], None]:
        def handle(lines: list[str]) -> None:
            self.tail.extend(lines)
            self.driver._log_lines(self.deployment.release.app, stream, lines, self.instance)

        return handle

    def exit_code(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def describe_exit(self, code: int) -> str:
        """How it stopped: told apart from a crash when the kernel killed one of its
        processes (its group's) for its memory limit meanwhile."""
        cgroup = self.cgroup
        if cgroup is not None and cgroup.new_oom_kills():
            self.deployment.oom_kills += 1
            return describe_exit(code, cgroup.resources.memory or 0)
        return describe_exit(code)

    def healthy(self) -> bool:
        """Serving: it has no port, or it accepts connections on its port through a listener
        of its own; raises PortTaken when another process's listener answers there."""
        if self.port is None or not accepts_connections(self.port):
            return self.port is None
        if self.forwarder is not None and not self.listens_inside():
            return False  # the forwarder answers; the app in its namespace is not there yet
        if self.owns_port():
            return True
        raise PortTaken(self.port)

    def listens_inside(self) -> bool:
        """Whether anything listens on the port in the app's network namespace."""
        popen = self.popen
        assert self.port is not None
        return popen is not None and bool(namespace_listeners(popen.pid, self.port))

    def owns_port(self) -> bool:
        """Whether the listener on the port is this running process's own (``listener``)."""
        popen = self.popen
        forwarder = self.forwarder
        return (
            self.owner is not None
            and popen is not None
            and popen.poll() is None
            and self.owner.owned_by(popen.pid, via=forwarder.pid if forwarder else None)
        )

    def foreign(self) -> bool:
        """Whether something not its own listens on its port: on the host, or, when the app
        runs in its network's namespace, there (the host's end is the forwarder's)."""
        if self.port is None or self.owns_port():
            return False
        if self.forwarder is None:
            return bool(listening_inodes(self.port))
        return self.listens_inside()

    def output_tail(self) -> list[str]:
        for reader in self.readers:
            reader.join(timeout=0.5)
        return list(self.tail)

    def terminate(self, grace: float) -> None:
        with self.lock:
            popen = self.popen
        if popen is not None:
            terminate_group(popen, grace)

    def usage(self) -> tuple[float, int]:
        """(cpu percent, rss bytes) of the process and all its descendants."""
        if self.popen is None or self.popen.poll() is not None:
            return 0.0, 0
        cpu, rss = 0.0, 0
        try:
            root = psutil.Process(self.popen.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0, 0
        live: dict[int, psutil.Process] = {}
        for proc in tree:
            cached = self._usage.get(proc.pid, proc)
            try:
                cpu += cached.cpu_percent(interval=None)
                rss += cached.memory_info().rss
            except psutil.Error:
                continue
            live[proc.pid] = cached
        self._usage = live
        return cpu, rss


class _Deployment:
    def __init__(self, driver: LocalProcessDriver, release: Release) -> None:
        self.release = release
        self.cgroups = driver.cgroups
        self.part = f"release-{release.number}.{next(driver.deployment_ids)}"
        self.limits = release.resources if driver.cgroups is not None else None
        """What each process's group enforces (None: no cgroups)."""
        self.oom_kills = 0
        self.last_exit: str | None = None
        self.network = release.sandbox.network if release.sandbox is not None else None
        self.stopping = threading.Event()
        self.started_at = datetime.now(UTC)
        self.started_monotonic = time.monotonic()
        self.restarts = 0
        self.crashed: set[str] = set()
        """The instances (``web.2``) that crashed and are not healthy again yet."""
        self.processes: list[_Process] = []
        for name in release.processes:
            count = max(1, release.instances) if name == WEB else 1
            for number in range(1, count + 1):
                port = free_port() if name == WEB else None
                self.processes.append(_Process(driver, self, name, number, port))
        self.webs = [p for p in self.processes if p.port is not None]
        self.port = self.webs[0].port if self.webs else None
        """The first instance's port (what the single-port callers show)."""

    def group(self, instance: str) -> Cgroup | None:
        """The cgroup of one of its processes (``web.2``): ``<app>/<part>.<instance>``."""
        if self.cgroups is None:
            return None
        return self.cgroups.group((self.release.app, f"{self.part}.{instance}"), self.limits)

    def stop(self, grace: float) -> None:
        self.stopping.set()
        threads = [
            threading.Thread(target=p.terminate, args=(grace,), daemon=True) for p in self.processes
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for process in self.processes:
            if process.forwarder is not None:
                process.forwarder.stop()
        for process in self.processes:  # what left the process groups is still in the cgroup
            if process.cgroup is not None:
                process.cgroup.kill()
                process.cgroup.remove()


class _App:
    def __init__(self) -> None:
        self.deploy_lock = threading.Lock()
        self.current: _Deployment | None = None
        self.state = State.CREATED


class LocalProcessDriver:
    """Runs each app's current release as local processes.

    ``on_log(app, stream, line, process=name)`` gets every output line (stream
    ``stdout``/``stderr``, or ``platform`` for the driver's own notes): it fits
    ``LogStore.append``. With ``on_lines(app, stream, lines, process=name)`` (which fits
    ``LogStore.append_many``) a process's output comes instead in batches: the lines that
    arrived together. ``on_state(app, state, details)`` gets every state change. All are
    called from driver threads and must be quick.
    """

    def __init__(
        self,
        on_log: LogCallback | None = None,
        on_state: StateCallback | None = None,
        *,
        on_lines: LinesCallback | None = None,
        health_timeout: float = 30.0,
        settle_s: float = 1.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        stable_after_s: float = 30.0,
        stop_grace: float = 5.0,
        drain_s: float = 1.0,
        cgroups: Cgroups | None = None,
        disk_check_s: float = DISK_CHECK_S,
    ) -> None:
        self.on_log = on_log
        self.on_lines = on_lines
        self.on_state = on_state
        self.health_timeout = health_timeout
        self.settle_s = settle_s
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.stable_after_s = stable_after_s
        self.stop_grace = stop_grace
        self.drain_s = drain_s
        self.disk_check_s = disk_check_s
        self.cgroups = cgroups if cgroups is not None and cgroups.enabled else None
        self.deployment_ids = itertools.count(1)  # each deployment gets a cgroup of its own
        self._apps: dict[str, _App] = {}
        self._lock = threading.Lock()
        self._background: list[threading.Thread] = []

    def start(self, release: Release) -> AppStatus:
        """Start ``release``, or switch the app to it with zero downtime if one is running.

        Blocks until the release is healthy; raises StartError (the previous release,
        if any, still serving) when it is not. Starting the current release again is a
        zero-downtime restart.
        """
        app = self._app(release.app)
        with app.deploy_lock:
            previous = app.current if app.state != State.STOPPED else None
            if previous is None:
                self._set_state(release.app, State.STARTING, release=release.number)
            deployment = _Deployment(self, release)
            try:
                over = _over_disk(release)
                if over:
                    raise StartError(over)
                self._launch_healthy(deployment)
            except StartError as exc:
                deployment.stop(self.stop_grace)
                if previous is None:
                    self._set_state(
                        release.app,
                        State.FAILED,
                        release=release.number,
                        reason=exc.message,
                        exit_code=exc.exit_code,
                    )
                raise
            app.current = deployment
            for process in deployment.processes:
                self._spawn_thread(self._supervise, process, name=f"supervise-{process.instance}")
            if release.home is not None and release.resources and release.resources.disk:
                self._spawn_thread(self._watch_disk, deployment, name="disk-watch")
            self._set_state(
                release.app, State.RUNNING, release=release.number, port=deployment.port
            )
            if previous is not None:
                self._spawn_thread(self._retire, previous, name="retire")
        return self.status(release.app)

    def stop(self, app: str) -> None:
        """Stop the app's processes (SIGTERM, then SIGKILL after the grace time)."""
        entry = self._app(app)
        with entry.deploy_lock:
            if entry.current is not None:
                entry.current.stop(self.stop_grace)
            self._set_state(
                app, State.STOPPED, release=entry.current.release.number if entry.current else None
            )

    def status(self, app: str) -> AppStatus:
        entry = self._app(app)
        deployment, state = entry.current, entry.state
        if deployment is None:
            return AppStatus(state)
        running = state in _SERVING
        cpu, rss = 0.0, 0
        pids: dict[str, int] = {}
        instances: list[dict[str, Any]] = []
        if running:
            for process in deployment.processes:
                process_cpu, process_rss = process.usage()
                cpu, rss = cpu + process_cpu, rss + process_rss
                alive = process.popen is not None and process.popen.poll() is None
                pid = process.popen.pid if alive and process.popen is not None else None
                if pid is not None:
                    pids.setdefault(process.name, pid)
                instances.append(
                    {
                        "name": process.instance,
                        "type": process.name,
                        "pid": pid,
                        "port": process.port,
                        "up": alive and process.instance not in deployment.crashed,
                    }
                )
        return AppStatus(
            state=state,
            release=deployment.release.number,
            restarts=deployment.restarts,
            started_at=deployment.started_at.isoformat().replace("+00:00", "Z"),
            # a crash loop has no uptime to speak of; its figures (cpu, memory) still count
            uptime_s=(
                round(time.monotonic() - deployment.started_monotonic, 3)
                if state == State.RUNNING
                else None
            ),
            pids=pids,
            cpu_percent=round(cpu, 1),
            memory_rss=rss,
            port=deployment.port if running else None,
            oom_kills=deployment.oom_kills,
            last_exit=deployment.last_exit,
            limits=(deployment.limits or Resources(None, None, None)).to_dict()
            if deployment.cgroups is not None
            else None,
            instances=instances,
        )

    def port(self, app: str) -> int | None:
        """Where the app's ``web`` process listens; None when it is stopped or has no web."""
        entry = self._apps.get(app)
        if entry is None or entry.current is None or entry.state not in _SERVING:
            return None
        return entry.current.port

    def serving(self) -> list[str]:
        """The apps with a current release that has a web port: the router's candidates."""
        with self._lock:
            keys = list(self._apps)
        return [key for key in keys if self.port(key) is not None]

    def verified_ports(self, app: str) -> list[tuple[str, int]]:
        """(instance, port) of the app's web instances that are alive and own every listener on
        their port (``listener``): the only places the router forwards to."""
        return [(w.instance, w.port) for w in self._webs(app) if w.port and w.owns_port()]

    def foreign_listener(self, app: str) -> bool:
        """Whether something listens on one of the app's web ports that is not that instance's
        own: the router must not forward there (another tenant took the port)."""
        return any(web.foreign() for web in self._webs(app))

    def _webs(self, app: str) -> list[_Process]:
        entry = self._apps.get(app)
        deployment = entry.current if entry is not None else None
        return list(deployment.webs) if deployment is not None else []

    def close(self) -> None:
        """Stop every app without reporting them stopped (they restart with the platform)."""
        with self._lock:
            apps = list(self._apps.values())
        for app in apps:
            with app.deploy_lock:
                if app.current is not None:
                    app.current.stop(self.stop_grace)
        for thread in list(self._background):
            thread.join()

    def _app(self, key: str) -> _App:
        with self._lock:
            return self._apps.setdefault(key, _App())

    def _set_state(self, app: str, state: State, **details: Any) -> None:
        self._app(app).state = state
        if self.on_state is not None:
            self.on_state(app, state, details)

    def _set_current_state(self, deployment: _Deployment, state: State, **details: Any) -> None:
        """Report a state from a deployment's supervision, unless it is no longer the app's."""
        app = deployment.release.app
        if self._app(app).current is deployment and not deployment.stopping.is_set():
            self._set_state(app, state, release=deployment.release.number, **details)

    def _log(self, app: str, stream: str, line: str, process: str) -> None:
        if self.on_log is not None:
            self.on_log(app, stream, line, process=process)

    def _log_lines(self, app: str, stream: str, lines: list[str], process: str) -> None:
        if self.on_lines is not None:
            self.on_lines(app, stream, lines, process=process)
            return
        for line in lines:
            self._log(app, stream, line, process)

    def _spawn_thread(self, target: Callable[..., None], *args: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._background = [t for t in self._background if t.is_alive()]
            self._background.append(thread)
        thread.start()

    def _launch_healthy(self, deployment: _Deployment) -> None:
        for process in deployment.processes:
            process.launch()
        deadline = time.monotonic() + self.health_timeout
        settled = time.monotonic() + self.settle_s
        waiting = list(deployment.webs)
        web = waiting[0] if waiting else None
        while True:
            for process in deployment.processes:
                code = process.exit_code()
                if code is not None:
                    what = (
                        f"before accepting connections on port {process.port}"
                        if process.port
                        else "while starting"
                    )
                    raise StartError(
                        f"{process.name} {process.describe_exit(code)} {what}",
                        code,
                        process.output_tail(),
                    )
            try:
                waiting = [p for p in waiting if not p.healthy()]  # every instance, each once
                if not waiting if web else time.monotonic() >= settled:
                    return
            except PortTaken as exc:
                raise StartError(f"web: {exc}", None, list(web.tail) if web else []) from None
            if time.monotonic() >= deadline:
                late = waiting[0] if waiting else web
                raise StartError(
                    f"{late.instance if late and len(deployment.webs) > 1 else 'web'} did not "
                    f"accept connections on port {late.port if late else deployment.port} "
                    f"within {self.health_timeout:g} s",
                    None,
                    list(web.tail) if web else [],
                )
            time.sleep(0.05)

    def _supervise(self, process: _Process) -> None:
        """Wait for the process to exit; unless it is being stopped, relaunch it with backoff."""
        deployment = process.deployment
        app = deployment.release.app
        attempt = 0
        while process.popen is not None:
            code = process.popen.wait()
            if deployment.stopping.is_set():
                return
            ran_for = time.monotonic() - process.launched_at
            attempt = 0 if ran_for >= self.stable_after_s else attempt
            delay = min(self.backoff_base * 2**attempt, self.backoff_cap)
            attempt += 1
            deployment.restarts += 1
            deployment.crashed.add(process.instance)
            how = process.describe_exit(code)
            deployment.last_exit = f"{process.name} {how}"
            # the state first: it withdraws the instance's route (the log line can wait)
            self._set_current_state(
                deployment,
                State.CRASHED,
                process=process.name,
                instance=process.instance,
                exit_code=code,
                restarts=deployment.restarts,
                reason=how,
            )
            self._log(
                app,
                "platform",
                f"{process.name} {how}; restarting in {delay:g} s",  # the line names the instance
                process.instance,
            )
            # what it left in its process group (a child still holding its port) would keep
            # the relaunch from binding it; after the report, which withdraws its route
            terminate_group(process.popen, min(1.0, self.stop_grace))
            if process.cgroup is not None:  # and what left that group, in its cgroup
                process.cgroup.kill()
            if deployment.stopping.wait(delay) or not process.launch():
                return
            if self._wait_healthy(process):
                deployment.crashed.discard(process.instance)
                if not deployment.crashed:
                    self._set_current_state(
                        deployment,
                        State.RUNNING,
                        port=deployment.port,
                        restarts=deployment.restarts,
                    )

    def _wait_healthy(self, process: _Process) -> bool:
        deadline = time.monotonic() + self.health_timeout
        while time.monotonic() < deadline and not process.deployment.stopping.is_set():
            if process.exit_code() is not None:
                return False
            try:
                if process.healthy():
                    return True
            except PortTaken as exc:
                self._log(
                    process.deployment.release.app,
                    "platform",
                    f"{process.instance}: {exc}",
                    process.instance,
                )
                break
            time.sleep(0.05)
        if not process.deployment.stopping.is_set():
            process.terminate(self.stop_grace)
        return False

    def _watch_disk(self, deployment: _Deployment) -> None:
        """Stop the deployment once its app's home holds more than its disk limit (measured
        every ``disk_check_s``: a tenant can overshoot by what it writes meanwhile), saying
        why in its log and its state; it stays stopped (a restart would refuse) until the
        home is emptied, by ``rig command`` or a new release that needs less."""
        release = deployment.release
        while not deployment.stopping.wait(self.disk_check_s):
            over = _over_disk(release)
            if not over:
                continue
            entry = self._app(release.app)
            with entry.deploy_lock:
                if entry.current is not deployment or deployment.stopping.is_set():
                    return
                if self.on_log is not None:  # the platform's own line, as a deploy's notes
                    self.on_log(release.app, "platform", f"stopped: {over}")
                deployment.stop(self.stop_grace)
                reason = f"stopped: {over}"
                self._set_state(release.app, State.FAILED, release=release.number, reason=reason)
            return

    def _retire(self, deployment: _Deployment) -> None:
        time.sleep(self.drain_s)
        deployment.stop(self.stop_grace)


def _over_disk(release: Release) -> str | None:
    """Why the release's app is over its disk limit, or None."""
    limit = release.resources.disk if release.resources else None
    if release.home is None or not limit:
        return None
    used = disk_used(release.home)
    if used <= limit:
        return None
    return (
        f"the app's home holds {human_size(used)}, over its disk limit of {human_size(limit)} "
        "([resources] disk in rig.toml)"
    )
