"""The ``swarm`` runtime driver: the platform's apps as Docker Swarm services.

``SwarmRuntime`` is the process runtime (``core.Runtime``) with the engine in place of local
processes, so that what is the platform's is written once: release records and their order
(one worker per app), builds (the builders, in the build sandbox, on this machine), rollback
targets and pruning, state and release listeners, the log store. ``SwarmEngine`` is the
``supervisor.Driver`` that ``Runtime`` starts, stops and asks for ports and figures:

- a built release directory becomes an image once per build (``images.build``; a config
  release or a rollback runs the image of the build it reuses), an app a service
  (``services.deploy`` then ``wait_converged``: start-first, health checked, so the switch is
  the process runtime's zero-downtime one). Rollback is the older build's image with the
  older env snapshot (the runtime's rollback release carries both);
- the router's upstreams are the tasks' published ports on loopback, read from the engine at
  each check (a task the engine restarts after a crash has a new port);
- logs: one ``LogFollow`` per app, for as long as it exists, into the log store with the
  task's slot as the instance (``web.2``): it follows the tasks of every rollout, so the
  log store's gapless follow is unchanged;
- exec (``rig command``/``rig shell``): a local ``docker exec`` of the launcher in a running
  task, as the app's user in /app (see ``SwarmRuntime.exec_target``);
- the engine outlives the platform: ``close`` leaves the services running and ``reconcile``
  adopts the ones that run the store's active release, untouched.

Engine-level names are ``rig<platform marker>a<app id>``: app names are unique per network
only, and several platforms (a test run's) may share one engine.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import logging
import os
import shlex
import shutil
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maxlocal.errors import Conflict
from maxlocal.layout import build_log_key
from maxlocal.runtime import imageref, proc
from maxlocal.runtime.core import Runtime, runtime_arguments
from maxlocal.runtime.driver import (
    DriverInfo,
    ExecTarget,
    Launcher,
    RuntimeDriver,
    RuntimeOptions,
    RuntimeUnavailable,
    Stores,
)
from maxlocal.runtime.sandbox import app_uid
from maxlocal.runtime.supervisor import (
    TAIL_LINES,
    WEB,
    AppStatus,
    StartError,
    State,
    describe_exit,
)
from maxlocal.runtime.supervisor import Release as RunRelease
from maxlocal.runtime.swarm import base, engine, imagedeploy, images, registry, services
from maxlocal.runtime.swarm.engine import APP, EngineError
from maxlocal.runtime.swarm.logs import LogFollow
from maxlocal.strays import MARKER_VAR, marker_for

if TYPE_CHECKING:
    import subprocess

    import docker

    from maxlocal.runtime.imageref import ImageRef, RegistryAuth
    from maxlocal.store.apps import App
    from maxlocal.store.networks import Network
    from maxlocal.store.releases import NewRelease, Release

log = logging.getLogger("maxlocal")

NAME = "swarm"
PORT = 8000
"""The app's ``PORT`` in its task (each task has its own network namespace)."""
RELAY_PORT = 8080
"""What the task publishes, relayed to ``127.0.0.1:PORT`` (``launch.relay``)."""
GIVE_UP_AFTER = 1
"""Failed tasks of a new release that end its start: as on the process runtime, an instance
that exits before it accepts connections fails the release."""
SESSION_ENV = ("TERM", "PS1")
"""What of a session's environment reaches ``docker exec`` (no value that may be a secret:
argv is visible to every user of the machine; the app's variables come from its env
secret through the launcher, as the app's own)."""
HINT = "start one with scripts/docker-up (needs docker.io: scripts/install-system-deps)"
_SERVING = (State.RUNNING, State.CRASHED)


@dataclass
class _App:
    """The engine driver's view of one app."""

    name: str
    """Its engine-level name: service, image repository, secrets."""
    uid: int
    state: State = State.CREATED
    release: int | None = None
    replicas: int = 0
    resources: dict[str, object] | None = None
    kinds: dict[str, str] = field(default_factory=dict)
    """Process type -> its service's name, as the running release has them."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=TAIL_LINES)
    )


class SwarmEngine:
    """``supervisor.Driver`` on the engine: what ``Runtime`` calls instead of local processes."""

    def __init__(self, runtime: SwarmRuntime, health_timeout: float) -> None:
        self.runtime = runtime
        self.client = runtime.client
        self.health_timeout = health_timeout
        self._apps: dict[str, _App] = {}
        self._follows: dict[str, LogFollow] = {}
        self._processes: dict[int, Any] = {}  # pid -> psutil.Process, for CPU between calls
        self._lock = threading.Lock()

    # -- supervisor.Driver

    def start(self, release: RunRelease) -> AppStatus:
        """Roll the app's services (one per process type: ``web`` with N replicas and the
        published port, each other type one task) to ``release``, creating them the first
        time, and wait until every instance runs (healthy, for web); the same release again
        is a rolling restart (new tasks, start-first). StartError with the failed task's last
        lines, the old release serving on."""
        entry = self.entry(release.app)
        with entry.lock:
            serving = entry.state in _SERVING
            if not serving:
                self._set_state(release.app, State.STARTING, release=release.number)
            specs: dict[str, services.AppSpec] = {}
            updated: set[str] = set()
            earlier: dict[str, set[str]] = {}
            try:
                specs = self._specs(entry, release)
                again = (
                    serving
                    and entry.release == release.number
                    and entry.replicas == release.instances
                )
                earlier = {k: services.task_ids(self.client, s.app) for k, s in specs.items()}
                for kind, spec in specs.items():
                    self._follow(release.app, spec.app, kind)
                    if again and kind in entry.kinds:
                        services.restart(self.client, spec.app)
                    else:
                        services.deploy(self.client, spec)
                    updated.add(kind)
                for kind, spec in specs.items():
                    services.wait_converged(
                        self.client,
                        spec.app,
                        spec.release,
                        spec.replicas,
                        self.health_timeout,
                        replacing=earlier[kind] if again and kind in entry.kinds else (),
                        give_up_after=GIVE_UP_AFTER,
                        earlier=earlier[kind],
                    )
            except (EngineError, OSError, StartError) as exc:
                failure = self._failure(entry, release, exc, specs, earlier)
                self._undo(entry, release, specs, updated)
                if not serving:
                    self._set_state(
                        release.app,
                        State.FAILED,
                        release=release.number,
                        reason=failure.message,
                        exit_code=failure.exit_code,
                    )
                raise failure from None
            for kind, name in entry.kinds.items():
                if kind not in specs:  # a process type the new release no longer has
                    self._unfollow(name)
                    services.remove(self.client, name)
            entry.kinds = {kind: spec.app for kind, spec in specs.items()}
            entry.release, entry.replicas = release.number, release.instances
            entry.resources = release.resources.to_dict() if release.resources else None
            self._set_state(release.app, State.RUNNING, release=release.number, port=PORT)
        return self.status(release.app)

    def stop(self, app: str) -> None:
        """Scale the service to 0 (``rig start`` scales it back): the spec, image and env
        secret stay, so a start is quick and runs exactly what ran."""
        entry = self.entry(app)
        with entry.lock:
            for name in (entry.kinds or self._engine_services(entry)).values():
                with contextlib.suppress(_not_found()):
                    services.scale(self.client, name, 0)
                    self._wait_gone(name)
            self._set_state(app, State.STOPPED, release=entry.release)

    def status(self, app: str) -> AppStatus:
        entry = self.entry(app)
        if entry.release is None:
            return AppStatus(entry.state)
        serving = entry.state in _SERVING
        running = [
            (kind, instance)
            for kind, name in (entry.kinds or {WEB: entry.name}).items()
            for instance in (services.instances(self.client, name) if serving else [])
        ]
        listed: list[dict[str, Any]] = []
        started: list[str] = []
        cpu, rss = 0.0, 0
        for kind, instance in running:
            pid, since = self._container(instance.container_id)
            started.append(since)
            used = self._usage(pid) if pid else (0.0, 0)
            cpu, rss = cpu + used[0], rss + used[1]
            listed.append(
                {
                    "name": f"{kind}.{instance.slot}",
                    "type": kind,
                    "pid": pid,
                    "port": int(instance.address.rsplit(":", 1)[1]) if instance.address else None,
                    "up": pid is not None,
                    "task": instance.task_id,
                    "container": instance.container_id,
                }
            )
        first = min(started) if started else None
        return AppStatus(
            state=entry.state,
            release=entry.release,
            restarts=sum(
                len(services.failed_tasks(self.client, name, str(entry.release)))
                for name in (entry.kinds or {WEB: entry.name}).values()
            ),
            started_at=first,
            uptime_s=_age(first) if first and entry.state == State.RUNNING else None,
            pids={i["type"]: i["pid"] for i in reversed(listed) if i["pid"]},
            cpu_percent=round(cpu, 1),
            memory_rss=rss,
            port=next((i["port"] for i in listed if i["type"] == WEB), None),
            limits=entry.resources,
            instances=listed,
        )

    def port(self, app: str) -> int | None:
        """The app's port in its tasks while it serves (the router asks ``verified_ports``
        for where to forward)."""
        entry = self._apps.get(app)
        return PORT if entry is not None and entry.state in _SERVING else None

    def serving(self) -> list[str]:
        with self._lock:
            return [key for key, entry in self._apps.items() if entry.state in _SERVING]

    def verified_ports(self, app: str) -> list[tuple[str, int]]:
        """(instance, port on loopback) of each running task, as the engine has them now: the
        engine's proxy holds each published port, so no other tenant can take it."""
        entry = self._apps.get(app)
        if entry is None:
            return []
        return [
            (f"{WEB}.{i.slot}", int(i.address.rsplit(":", 1)[1]))
            for i in services.instances(self.client, entry.name)
        ]

    def foreign_listener(self, app: str) -> bool:
        return False

    def close(self) -> None:
        """Stop reading logs; the services run on (the engine outlives the platform)."""
        with self._lock:
            follows = list(self._follows.values())
            self._follows.clear()
        for follow in follows:
            follow.close()

    # -- the runtime's own

    def entry(self, key: str) -> _App:
        with self._lock:
            found = self._apps.get(key)
            if found is None:
                name, uid = self.runtime.identity(key)
                found = self._apps[key] = _App(name, uid)
            return found

    def adopt(self, key: str, release: int, since: float | None) -> None:
        """A service a previous platform started, running the store's active release: taken
        over as it is (no update, no new task); its log read on from ``since``."""
        entry = self.entry(key)
        with entry.lock:
            entry.release = release
            entry.kinds = self._engine_services(entry)
            entry.replicas = len(services.instances(self.client, entry.name))
            for kind, name in entry.kinds.items():
                self._follow(key, name, kind, since)
            self._set_state(key, State.RUNNING, release=release, port=PORT)

    def remove(self, key: str) -> None:
        """The app's service, env secrets and images, and its log reader."""
        entry = self.entry(key)
        with self._lock:
            self._apps.pop(key, None)
        for name in {**self._engine_services(entry), **entry.kinds}.values():
            self._unfollow(name)
            services.remove(self.client, name)
        self.remove_images(entry.name, keep=set())

    def remove_images(self, name: str, keep: set[str]) -> None:
        """The app's images whose tag is not in ``keep`` (one in use by a task stays)."""
        import docker.errors

        sources = set()
        for image in self.client.images.list(filters={"label": f"{APP}={name}"}):
            if not set(image.tags) & keep:
                with contextlib.suppress(docker.errors.APIError):
                    self.client.images.remove(image.id)
                    sources.add(image.labels.get(imagedeploy.IMAGE))
        imagedeploy.forget_sources(self.client, sources - {None})

    def _specs(self, entry: _App, release: RunRelease) -> dict[str, services.AppSpec]:
        """A service spec per process type of ``release``: web with the published port (the
        launcher's relay) and the health check, each other type one task, neither. An image
        deploy's release is its image's one web service (``_image_spec``)."""
        wrapped = imagedeploy.saved(release.path)
        if wrapped is not None:
            return {WEB: self._image_spec(entry, release, wrapped)}
        if WEB not in release.processes:
            raise StartError("the swarm runtime runs a release's web process: it has none")
        limits = release.resources
        common: dict[str, Any] = {
            "network": release.app.split("/", 1)[0],
            "release": str(release.number),
            "image": self._image(entry, release),
            "uid": entry.uid,
            "port": PORT,
            "variables": {k: v for k, v in release.env.items() if k != MARKER_VAR},
            "limits": services.Limits(
                memory=limits.memory if limits else None,
                pids=limits.processes if limits else None,
                cpus=limits.cpu if limits else None,
            ),
            "stop_grace_s": 5.0,
        }
        specs = {}
        for kind, command in sorted(release.processes.items(), key=lambda p: p[0] != WEB):
            web = kind == WEB
            specs[kind] = services.AppSpec(
                app=service_of(entry.name, kind),
                command=["/bin/sh", "-c", command],
                replicas=release.instances if web else 1,
                health=(
                    services.Health(path=None, interval_s=0.5, start_period_s=self.health_timeout)
                    if web
                    else None
                ),
                relay=RELAY_PORT if web else None,
                process=kind,
                **common,
            )
        return specs

    def _image_spec(
        self, entry: _App, release: RunRelease, wrapped: imagedeploy.WrappedImage
    ) -> services.AppSpec:
        """An image deploy's release: the wrapped image's own command, listening on ``PORT``
        on any address (no relay: the image was made for a container), a probe that needs
        nothing of the image."""
        try:
            self.client.images.get(wrapped.tag)
        except _not_found() as exc:
            raise StartError(
                f"the image of this release ({wrapped.source}) was removed from the engine: "
                "deploy it again with rig deploy --image"
            ) from exc
        limits = release.resources
        probe = imagedeploy.health_command(PORT, 2.0)
        return services.AppSpec(
            app=entry.name,
            network=release.app.split("/", 1)[0],
            release=str(release.number),
            image=wrapped.tag,
            command=list(wrapped.command),
            uid=entry.uid,
            replicas=release.instances,
            port=PORT,
            variables={k: v for k, v in release.env.items() if k != MARKER_VAR},
            limits=services.Limits(
                memory=limits.memory if limits else None,
                pids=limits.processes if limits else None,
                cpus=limits.cpu if limits else None,
            ),
            health=services.Health(
                path=None,
                interval_s=0.5,
                start_period_s=self.health_timeout,
                command=tuple(probe),
            ),
            stop_grace_s=5.0,
        )

    def _image(self, entry: _App, release: RunRelease) -> str:
        """The image of the build ``release`` runs: made from its directory the first time
        (a deploy release), reused by a restart, a scale, a config release or a rollback
        (made again from the kept directory if it was removed meanwhile)."""
        import docker.errors

        build = release.path.name
        tag = images.image_tag(entry.name, f"b{build}")
        with contextlib.suppress(docker.errors.ImageNotFound):
            self.client.images.get(tag)
            return tag
        return images.build(
            self.client,
            release.path,
            base=self.runtime.base,
            app=entry.name,
            network=release.app.split("/", 1)[0],
            release=f"b{build}",
            uid=entry.uid,
        ).tag

    def _failure(
        self,
        entry: _App,
        release: RunRelease,
        exc: Exception,
        specs: dict[str, services.AppSpec],
        earlier: dict[str, set[str]],
    ) -> StartError:
        """Why ``release`` did not start, in the process runtime's words when a task of this
        start exited (``web exited with code 3 before accepting connections``), with its
        last lines (a task of ``earlier``, before this start, is not why)."""
        if isinstance(exc, StartError):
            return exc
        for kind, spec in specs.items():
            failed = [
                task
                for task in services.failed_tasks(
                    self.client, spec.app, spec.release, earlier.get(kind, ())
                )
                if services.exit_code(task) is not None
            ]
            code = services.exit_code(failed[0]) if failed else None
            if code is None:
                continue
            task = failed[0]["ID"]  # its own last lines: the follow may not have them yet
            lines = LogFollow(self.client, spec.app, follow=False)
            tail = [line.text for line in lines if line.task_id == task][-TAIL_LINES:]
            what = "before accepting connections" if kind == WEB else "while starting"
            return StartError(f"{kind} {describe_exit(code)} {what}", code, tail)
        tail = list(entry.tail)
        for spec in specs.values():
            if isinstance(exc, EngineError) and str(exc).startswith(spec.app):
                return StartError(f"{spec.process}{str(exc).removeprefix(spec.app)}", None, tail)
        return StartError(str(exc), None, tail)

    def _undo(
        self,
        entry: _App,
        release: RunRelease,
        specs: dict[str, services.AppSpec],
        updated: set[str],
    ) -> None:
        """After a failed start: what served goes on serving (each service that ran before
        and that this start ``updated`` is put back to its previous spec: the update paused
        on its failure), and the services this release made are removed. A service whose
        update was refused, or not yet sent, runs what it ran: its previous spec is the
        release *before* that, which the platform no longer serves."""
        import docker.errors

        for kind, spec in specs.items():
            try:
                if entry.release is None or kind not in entry.kinds:
                    self._unfollow(spec.app)
                    services.remove(self.client, spec.app)
                    continue
                if kind not in updated:
                    continue
                services.revert(self.client, spec.app)
            except (docker.errors.APIError, EngineError):
                log.exception("could not undo the failed start of %s", release.app)

    def _follow(self, key: str, name: str, kind: str, since: float | None = None) -> None:
        """Read the service ``name``'s tasks' lines into the app ``key``'s log, for as long
        as the service is the app's (across rollouts and restarts of its tasks)."""
        entry = self.entry(key)
        with self._lock:
            if name in self._follows:
                return
            follow = self._follows[name] = LogFollow(self.client, name, since=since)

        def pump() -> None:
            for line in follow:
                entry.tail.append(line.text)
                self.runtime.instance_line(key, line.stream, line.text, f"{kind}.{line.slot}")

        threading.Thread(target=pump, name=f"swarm-logs-{name}", daemon=True).start()

    def _unfollow(self, name: str) -> None:
        with self._lock:
            follow = self._follows.pop(name, None)
        if follow is not None:
            follow.close()

    def _engine_services(self, entry: _App) -> dict[str, str]:
        """Process type -> service name of the app's services as the engine has them."""
        found = {}
        for service in self.client.api.services(filters={"label": f"{engine.MANAGED}=app"}):
            name, labels = service["Spec"]["Name"], service["Spec"].get("Labels", {})
            if name == entry.name or name.startswith(entry.name + "-"):
                found[str(labels.get(engine.PROCESS, WEB))] = name
        return found

    def _wait_gone(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while services.instances(self.client, name) and time.monotonic() < deadline:
            time.sleep(0.2)

    def _usage(self, pid: int) -> tuple[float, int]:
        """(CPU %, resident bytes) of a task's processes: they are this machine's processes
        (one node), measured as the process runtime measures its own (psutil; the CPU since
        the previous call for the same task)."""
        import psutil

        try:
            main = self._processes.get(pid)
            if main is None:
                main = self._processes[pid] = psutil.Process(pid)
            tree = [main, *main.children(recursive=True)]
            cpu = main.cpu_percent(None)
            return cpu, sum(p.memory_info().rss for p in tree)
        except psutil.Error:
            self._processes.pop(pid, None)
            return 0.0, 0

    def _container(self, container: str) -> tuple[int | None, str]:
        """(host pid, started at) of a task's container; (None, '') when it is gone."""
        import docker.errors

        try:
            state = self.client.api.inspect_container(container)["State"]
        except docker.errors.NotFound:
            return None, ""
        return (int(state["Pid"]) or None), str(state.get("StartedAt", ""))

    def _set_state(self, app: str, state: State, **details: Any) -> None:
        self.entry(app).state = state
        self.runtime.engine_state(app, state, details)


class SwarmRuntime(Runtime):
    """The ``swarm`` runtime driver (``runtime.driver.RuntimeDriver``)."""

    name = NAME

    def __init__(
        self,
        *,
        client: docker.DockerClient,
        base_image: str,
        cli: str | None,
        **arguments: Any,
    ) -> None:
        """``arguments``: the process runtime's (``core.runtime_arguments``)."""
        super().__init__(**arguments)
        self.client = client
        self.base = base_image
        self.cli = cli
        self.prefix = engine_prefix(self.layout.data_dir)
        self.engine = SwarmEngine(self, float(arguments.get("health_timeout", 30.0)))
        self.driver = self.engine
        self._adopt: dict[str, float | None] = {}
        self._pull_auth: dict[int, RegistryAuth | None] = {}
        """An image release's registry credentials until its pull (memory only, never stored)."""

    def describe(self) -> DriverInfo:
        where = self.client.api.base_url.replace("http+docker://", "")
        isolation = {
            "mode": "container",
            "detail": (
                "each app's tasks in containers of their own, as the app's non-root uid, no "
                f"platform path mounted; builds: {self.isolation.describe()}"
            ),
        }
        limits: dict[str, object] = {
            "mode": "engine",
            "detail": "memory, processes and CPU of each task (the service's resources)",
            "defaults": self.cgroups.defaults.to_dict(),
            "summary": f"engine — per task by default: {self.cgroups.defaults.describe()}",
        }
        return DriverInfo(
            NAME,
            f"Docker Swarm services on the engine at {where}, a task per instance",
            isolation,
            limits,
            (
                f"runtime: swarm (engine {where}, base image {self.base})",
                f"isolation: tasks in containers; builds: {self.isolation.describe()}",
                f"limits: {limits['summary']}",
            ),
            outlives_platform=True,
        )

    # -- image deploys (rig deploy --image): swarm/imagedeploy.py does the engine's part

    def accept_image(
        self, app: App, image: ImageRef, auth: RegistryAuth | None, new: NewRelease
    ) -> Release:
        """Resolve ``image`` to its digest first (a missing image, refused credentials or an
        unreachable registry is the caller's error, nothing recorded), then the release; the
        pull and the wrap are its build, in the background, with ``auth`` held in memory."""
        try:
            with imagedeploy.session(image, auth) as client:
                digest = imagedeploy.resolve(client, image)
        except registry.RegistryError as exc:
            raise imagedeploy.api_error(exc) from None
        except EngineError as exc:
            raise Conflict(str(exc), HINT) from None
        checksum = digest.rpartition(":")[2]
        release = self.releases.create(
            app.id, dataclasses.replace(new, image_digest=digest, checksum=checksum)
        )
        self._pull_auth[release.id] = auth
        self._release_changed(app, release.number, "pending")
        self._submit(app, release)
        return release

    def _deploy(self, app: App, release: Release) -> None:
        """An image deploy's pull and wrap are its build (phase ``build``), then it starts as
        any release does."""
        if release.source == "deploy" and release.image_digest is not None:
            fresh = self._build_image(app, release)
            if fresh is None:
                return
            release = fresh
        super()._deploy(app, release)

    def _build_image(self, app: App, release: Release) -> Release | None:
        auth = self._pull_auth.pop(release.id, None)
        digest = str(release.image_digest)
        self._progress(app, release, "building", set_app_state=True)
        key = build_log_key(app.network, app.name)
        self.logs.append(key, "platform", f"pulling {digest}", release=release.number)
        name, uid = self.identity(app.key)
        try:
            with imagedeploy.session(imageref.parse(str(release.image)), auth) as client:
                imagedeploy.pull(client, digest)
            wrapped = imagedeploy.wrap(
                self.client,
                digest,
                app=name,
                network=app.network,
                release=f"b{release.number}",
                uid=uid,
            )
        except EngineError as exc:
            self._fail(app, release, "build", str(exc), [])
            return None
        directory = self.layout.release_dir(app.network, app.name, release.number)
        imagedeploy.save(directory, wrapped)
        processes = {WEB: shlex.join(wrapped.command)}
        self.releases.set_status(release.id, "building", processes)
        self.logs.append(key, "platform", f"image {wrapped.tag} ready", release=release.number)
        return self.releases.by_id(release.id)

    def identity(self, key: str) -> tuple[str, int]:
        """(engine-level name, uid) of the app ``key`` (``shop/api``)."""
        network, name = key.split("/", 1)
        app = self.apps.by_key(network, name)
        if app is None:
            raise Conflict(f"app '{name}' not found in network '{network}'")
        return f"{self.prefix}{app.id}", app_uid(app.id)

    def reconcile(self) -> None:
        """The engine is the source of truth: a service running the store's active release of
        a running app is adopted as it is; a service whose app was deleted meanwhile is
        removed; the rest is the process runtime's (unfinished releases failed, other apps
        started again)."""
        running = {
            name: release
            for name, release in services.managed(self.client).items()
            if name.startswith(self.prefix)
        }
        known = set()
        for app in self.apps.everything():
            name = f"{self.prefix}{app.id}"
            known.add(name)
            if (
                app.release is not None
                and app.state != State.STOPPED
                and running.get(name) == str(app.release)
                and services.instances(self.client, name)
            ):
                self._adopt[app.key] = self._last_logged(app.key)
        for name in running:
            if name.split("-", 1)[0] in known:  # the app's own, or one of its process types'
                continue
            log.info("removing service %s: its app no longer exists", name)
            services.remove(self.client, name)
            self.engine.remove_images(name, keep=set())
        super().reconcile()

    def _resume(self, app: App) -> None:
        if app.key in self._adopt and app.release is not None:
            self.engine.adopt(app.key, app.release, self._adopt.pop(app.key))
            return
        super()._resume(app)

    def remove(self, app: App) -> None:
        self.engine.remove(app.key)
        super().remove(app)

    def _prune(self, app: App, active: Release) -> None:
        """The process runtime's pruning of builds, and the images of the pruned builds."""
        super()._prune(app, active)
        root = self.layout.release_dir(app.network, app.name, 0).parent
        builds = {p.name for p in root.iterdir()} if root.is_dir() else set()
        name = f"{self.prefix}{app.id}"
        self.engine.remove_images(name, keep={images.image_tag(name, f"b{b}") for b in builds})

    def exec_target(self, network: Network, app: App | None) -> ExecTarget:
        """A session into ``app`` runs in one of its running tasks: ``docker exec`` of the
        launcher as the app's uid in /app, which gives the app's variables (its env secret),
        a PTY with resize (the CLI follows its terminal's size) and the exit code, and leaves
        the session machinery (audit, idle timeout, signals) the same as on the process
        runtime. A session into the network itself has no task to run in: it is the process
        runtime's, on this machine, in the network's sandbox."""
        if app is None:
            return super().exec_target(network, None)
        release = self.releases.get(app.id, app.release) if app.release else None
        if release is None:
            raise Conflict(f"app '{app.name}' has no release yet: deploy it first")
        if self.cli is None:
            raise Conflict(
                "the swarm runtime runs sessions with the docker command, which is not on the "
                "platform's PATH",
                "install docker.io (scripts/install-system-deps)",
            )
        name, uid = self.identity(app.key)
        directory = self.layout.release_dir(app.network, app.name, release.artifact_release)
        wrapped = imagedeploy.saved(directory)
        workdir = Path(wrapped.workdir) if wrapped is not None else images.APP_DIR
        if not services.instances(self.client, name):
            raise Conflict(
                f"app '{app.name}' has no running instance to run a command in",
                f"start it: `rig start app {app.name} --network {app.network}`",
            )
        secrets = {k: self.vault.decrypt(v.encode("ascii")) for k, v in release.env.secrets.items()}
        env = {**release.env.vars, **secrets}
        label = f"{app.name}.{app.network}"
        return ExecTarget(workdir, env, label, tuple(secrets.values()), self._exec(name, uid))

    def _exec(self, name: str, uid: int) -> Launcher:
        cli, here = str(self.cli), self.layout.data_dir
        cli_env = {key: os.environ[key] for key in ("PATH", "DOCKER_HOST") if key in os.environ} | {
            "DOCKER_CONFIG": str(here / "docker-cli"),
            "HOME": str(here),
        }

        def run(
            argv: list[str], cwd: Path, env: Mapping[str, str], **popen: Any
        ) -> subprocess.Popen[bytes]:
            running = services.instances(self.client, name)
            if not running:
                raise Conflict("the app has no running instance to run a command in")
            stdin = popen.get("stdin")
            tty = isinstance(stdin, int) and stdin >= 0 and os.isatty(stdin)
            command = [
                cli,
                "exec",
                "-i",
                *(["-t"] if tty else []),
                f"--user={uid}:{uid}",
                f"--workdir={cwd}",
                *(f"--env={key}={env[key]}" for key in SESSION_ENV if key in env),
                running[0].container_id,
                images.LAUNCHER,
                *argv,
            ]
            return proc.launch(command, here, cli_env, **popen)  # cwd: /app, in the task

        return run

    # -- what SwarmEngine tells the runtime

    def instance_line(self, key: str, stream: str, text: str, instance: str) -> None:
        self._on_lines(key, stream, [text], process=instance)

    def engine_state(self, key: str, state: State, details: dict[str, Any]) -> None:
        self._on_state(key, state, details)

    def _last_logged(self, key: str) -> float | None:
        """When the app's log store got its last line (a UNIX time), to read on from: the
        store's stamp is the arrival, cut to the millisecond, so the next millisecond (a
        line the engine stamped within it and the platform had not stored is the one lost)."""
        last = self.logs.read(key, tail=1)
        if not last:
            return None
        return datetime.fromisoformat(last[0].ts.replace("Z", "+00:00")).timestamp() + 0.001


def _age(started: str) -> float | None:
    try:
        moment = datetime.fromisoformat(started[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return None
    return round(time.time() - moment.timestamp(), 3)


def _not_found() -> type[Exception]:
    import docker.errors

    return docker.errors.NotFound


def service_of(name: str, kind: str) -> str:
    """The service of an app's process type: the app's engine-level name for web, with the
    type after it for the others (a digest of it when the type is no DNS label or too long:
    service names are DNS labels of at most 63 characters)."""
    if kind == WEB:
        return name
    tail = kind.lower().replace("_", "-")
    if len(name) + 1 + len(tail) > 63 or not tail[-1].isalnum():
        tail = "p" + hashlib.sha256(kind.encode()).hexdigest()[:12]
    return f"{name}-{tail}"


def engine_prefix(data_dir: Path) -> str:
    """What the engine-level names of the platform with ``data_dir`` start with."""
    return f"rig{marker_for(data_dir)[:10]}a"


def remove_platform(data_dir: Path) -> None:
    """Remove what the platform with ``data_dir`` made on the engine (its services, then
    their env secrets and release images), which outlives it by design: for a platform
    that is gone for good (a test's, the bench's), never one that will start again."""
    import docker.errors

    prefix = engine_prefix(data_dir)
    client = engine.connect()
    try:
        for name in services.managed(client):
            if name.startswith(prefix):
                services.remove(client, name)  # waits for its containers; its env secrets
        # The listing alone (``images.list`` inspects each image it lists, which fails on one
        # that another platform sharing the engine removes meanwhile: seen in a test's teardown)
        for image in client.api.images(filters={"label": f"{engine.MANAGED}=release"}):
            if any(tag.startswith(prefix) for tag in image.get("RepoTags") or ()):
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(image["Id"], force=True)
    finally:
        client.close()


def swarm_driver(options: RuntimeOptions, stores: Stores) -> RuntimeDriver:
    """The ``swarm`` driver's factory (``runtime.driver``'s registry): RuntimeUnavailable,
    one line with a hint, when there is no engine in swarm mode to run on."""
    try:
        client = engine.connect()
        if not engine.swarm_active(client):
            raise RuntimeUnavailable("the Docker engine is not in swarm mode", HINT)
        base_image = base.ensure(client)
    except EngineError as exc:
        raise RuntimeUnavailable(str(exc), HINT) from None
    return SwarmRuntime(
        client=client,
        base_image=base_image,
        cli=shutil.which("docker"),
        **runtime_arguments(options, stores),
    )
