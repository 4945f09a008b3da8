"""The runtime side of the platform: releases go from upload to running, apps are supervised.

Each release is worked on by a thread of its own; the releases of one app go one at a
time (a per-app lock), so they start in the order they were made. A deploy release is
unpacked into its own directory and built there; config and rollback releases run the
directory of the release whose artifact they reuse, so nothing is rebuilt.

The database's ``apps.state`` is the state clients see. Every change goes through
``_set_state``, which also tells the ``state listeners`` (a hook for the realtime
socket); every release status change tells the ``release listeners``. An app's log lines
go to the ``LogStore`` twice: under the app's key and under its network's (a sequence of its
own, each line tagged with its app); ``LogStore.subscribe`` is the realtime socket's other hook.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maxlocal.builders import envs
from maxlocal.builders.plan import Plan, make_plan
from maxlocal.builders.run import StepFailed, ensure_python, execute
from maxlocal.builders.source import DiskSource
from maxlocal.builders.toolbox import Toolbox
from maxlocal.crypto import Vault
from maxlocal.errors import Conflict, NotFound, RuntimeUnsupported
from maxlocal.layout import Layout, build_log_key, log_key, network_log_key
from maxlocal.runtime.artifacts import ArtifactError, unpack
from maxlocal.runtime.cgroups import (
    Cgroup,
    Cgroups,
    LimitError,
    Resources,
    for_build,
    resources_from,
)
from maxlocal.runtime.driver import (
    DEFAULT_KEEP_RELEASES,
    DriverInfo,
    ExecTarget,
    ReleaseListener,
    RuntimeDriver,
    RuntimeOptions,
    StateListener,
    Stores,
)
from maxlocal.runtime.egress import Egress
from maxlocal.runtime.imageref import ImageRef, RegistryAuth
from maxlocal.runtime.logstore import DEFAULT_LIMIT, DEFAULT_LIMIT_BYTES, LogStore
from maxlocal.runtime.netns import Namespaces, NetworkNamespace
from maxlocal.runtime.proc import child_env, launch
from maxlocal.runtime.procfile import ProcfileError, declared
from maxlocal.runtime.router import Unavailable
from maxlocal.runtime.sandbox import (
    AUTO,
    BuildBox,
    Isolation,
    Sandbox,
    app_uid,
    linked_layers,
    network_uid,
)
from maxlocal.runtime.sandbox import choose as choose_isolation
from maxlocal.runtime.supervisor import (
    TAIL_LINES,
    AppStatus,
    Driver,
    LocalProcessDriver,
    StartError,
    State,
)
from maxlocal.runtime.supervisor import (
    Release as RunRelease,
)
from maxlocal.store.apps import App, Apps
from maxlocal.store.env import Env, Scope
from maxlocal.store.networks import Network
from maxlocal.store.releases import NewRelease, Release, Releases, Snapshot, Status
from maxlocal.strays import MARKER_VAR, kill_strays, marker_for

log = logging.getLogger("maxlocal")

_SERVING = (State.RUNNING, State.CRASHED)
_PHASE_OF = {"pending": "unpack", "building": "build", "starting": "start"}
RESTARTED = "platform restarted"
DISK_TTL = 10.0


class _BuildFailed(Exception):
    pass


class Runtime:
    """The ``process`` runtime driver (``runtime.driver.RuntimeDriver``): a release is a
    directory built on this machine, an instance a process group in the app's sandbox."""

    name = "process"

    def __init__(
        self,
        layout: Layout,
        apps: Apps,
        releases: Releases,
        env: Env,
        vault: Vault,
        *,
        log_limit: int = DEFAULT_LIMIT,
        log_bytes: int = DEFAULT_LIMIT_BYTES,
        health_timeout: float = 30.0,
        isolation: str = AUTO,
        keep_releases: int = DEFAULT_KEEP_RELEASES,
        cgroups: Cgroups | None = None,
    ) -> None:
        self.layout = layout
        self.cgroups = cgroups or Cgroups.off("not asked for")
        self.apps = apps
        self.releases = releases
        self.env = env
        self.vault = vault
        self.marker = marker_for(layout.data_dir)
        self.tools = Toolbox(layout.cache)
        chosen = choose_isolation(isolation, self.tools.sandbox_paths())
        self.namespaces = Namespaces.choose(layout.data_dir, chosen.active)
        """A network namespace per network (``runtime.netns``), when the machine allows."""
        self.egress = Egress()
        """Builds' way out of their network's namespace (``runtime.egress``)."""
        self._network_ids: dict[str, int] = {}
        if chosen.active:
            detail = f"{chosen.detail}; {self.namespaces.describe()}"
            chosen = dataclasses.replace(chosen, detail=detail)
        self.isolation: Isolation = chosen
        """What every tenant process runs in (``runtime.sandbox``), chosen once from
        ``isolation`` (auto/sandbox/none); IsolationUnavailable for ``sandbox`` here."""
        self.logs = LogStore(layout.logs, limit=log_limit, limit_bytes=log_bytes)
        self.keep_releases = keep_releases
        self._disk: dict[str, tuple[float, int]] = {}  # app key -> (when, bytes)
        self.driver: Driver = LocalProcessDriver(
            self._on_log,
            self._on_state,
            on_lines=self._on_lines,
            health_timeout=health_timeout,
            cgroups=self.cgroups,
        )
        self.state_listeners: list[StateListener] = []
        self.release_listeners: list[ReleaseListener] = []
        self._locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._closing = threading.Event()

    # -- start-up and shut-down

    def describe(self) -> DriverInfo:
        return DriverInfo(
            self.name,
            "processes on this machine, each app's in its own sandbox",
            self.isolation.to_dict(),
            self.cgroups.to_dict(),
            (f"isolation: {self.isolation.describe()}", f"limits: {self.cgroups.log_line()}"),
        )

    def reconcile(self) -> None:
        """Clean up after the previous run and start again the apps that were running (their
        processes ended with the platform: on this engine, nothing outlives it)."""
        killed = kill_strays(self.marker)
        if killed:
            log.info("killed %d process groups left by a previous platform", len(killed))
        self.cgroups.clear()
        self.namespaces.reconcile()
        for release in self.releases.unfinished():
            app = self._app_of(release)
            phase = _PHASE_OF[release.status] if release.source == "deploy" else "start"
            self.releases.fail(release.id, phase, RESTARTED, [])
            if app is not None:
                self._note(app, f"release {release.number} failed: {RESTARTED} during {phase}")
                if release.source == "deploy":
                    self.layout.remove_release(app.network, app.name, release.number)
        self.layout.remove_leftovers()
        for app in self.apps.everything():
            if app.release is None:
                if app.state not in (State.CREATED, State.STOPPED, State.FAILED):
                    self._set_state(app.key, State.FAILED, {"reason": RESTARTED})
            elif app.state != State.STOPPED:
                self._set_state(app.key, State.STARTING, {"release": app.release})
                self._spawn(self._resume, app, name=f"resume-{app.key}")

    def close(self) -> None:
        """Stop every app process; the apps stay ``running`` in the store, to be resumed.

        Builds still running are killed too; their releases are left as they are, to be
        marked failed ("platform restarted") at the next start-up."""
        self._closing.set()
        # first: it is quick, and a platform stopped by SIGKILL when its apps take long to
        # stop must not leave its namespaces and their pastas behind (apps lose the network
        # for their last moments; the router has stopped forwarding to them anyway)
        self.namespaces.close()
        self.egress.close()
        self.driver.close()
        kill_strays(self.marker)
        self.cgroups.close()
        self.logs.close()

    # -- releases

    def accept_upload(self, app: App, upload: Path, new: NewRelease) -> Release:
        """Record a verified upload as a new release and start working on it."""
        release = self.releases.create(app.id, new)
        os.replace(upload, self.layout.artifact(app.network, app.name, release.number))
        self._release_changed(app, release.number, "pending")
        self._submit(app, release)
        return release

    def accept_image(
        self, app: App, image: ImageRef, auth: RegistryAuth | None, new: NewRelease
    ) -> Release:
        """Refused: a release here is a directory built on this machine, never an image."""
        raise RuntimeUnsupported(
            f"image deploys need the swarm runtime; this platform runs the {self.name} runtime",
            "rig local start --runtime swarm (or deploy the source: rig deploy PATH)",
        )

    def config_release(self, app: App, created_by: str, message: str) -> Release | None:
        """A release of the current artifact with the app's current environment, unless the
        app is stopped or has no release to run (it then picks the change up when next
        deployed). An app whose first deploy built but did not start retries that build: a
        missing var is the usual reason, and setting it is the fix."""
        if app.state == State.STOPPED:
            return None
        current = (
            self._release(app, app.release) if app.release is not None else self._retryable(app)
        )
        if current is None:
            return None
        release = self._rerelease(app, current, "config", self.snapshot(app), created_by, message)
        self._submit(app, release)
        return release

    def rollback(self, app: App, to: int | None, created_by: str) -> tuple[Release, int]:
        """The new release and the number of the release it runs again (``to``, or the one
        the platform chose): that is the one to name, not the one whose build it reuses."""
        target = self._rollback_target(app, to)
        message = f"roll back to release {target.number}"
        release = self._rerelease(app, target, "rollback", target.env, created_by, message)
        self._submit(app, release)
        return release, target.number

    def env_changed(self, app: App, release: Release) -> list[str]:
        """The var and secret keys whose value in ``release``'s environment is not the app's
        current one (or that only one of them has)."""
        then, now = release.env, self.snapshot(app)
        changed: set[str] = set()
        for before, after in ((then.vars, now.vars), (then.secrets, now.secrets)):
            changed.update(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        return sorted(changed)

    def snapshot(self, app: App) -> Snapshot:
        merged = {e.key: e for e in self.env.entries(Scope(app.network_id))}
        merged.update({e.key: e for e in self.env.entries(Scope(app.network_id, app.id))})
        return Snapshot(
            vars={k: e.value or "" for k, e in merged.items() if e.kind == "var"},
            secrets={
                k: (e.ciphertext or b"").decode("ascii")
                for k, e in merged.items()
                if e.kind == "secret"
            },
        )

    # -- lifecycle

    def start(self, app: App, by: str | None = None) -> None:
        """Run the app's active release (a zero-downtime restart when it runs already).

        With ``by`` (who asks), an environment changed since that release makes a config
        release first, which is what runs."""
        if app.release is None:
            base = self._retryable(app)
            if base is None or by is None:
                raise self._nothing_to_run(app)
            with self._lock(app.id):  # waits, as a restart does, until it runs or fails
                retry = self._rerelease(app, base, "config", self.snapshot(app), by, "retry")
                self._deploy(app, retry)
            return
        with self._lock(app.id):
            release = self._release(app, app.release)
            env = self.snapshot(app)
            if by is not None and env != release.env:
                changed = self._rerelease(app, release, "config", env, by, "environment changed")
                self._deploy(app, changed)
                return
            try:
                self.driver.start(self._run_release(app, release, release.processes or {}))
            except StartError as e:
                self._note(app, f"release {release.number} did not start: {e.message}")

    def scale(self, app: App, instances: int) -> None:
        """Run ``instances`` web processes of the app from now on. A running app switches to
        them as a deploy does (the new set healthy first, then the old one drained), so no
        request is dropped; a stopped or never deployed app picks the count up when it runs."""
        self.apps.set_instances(app.id, instances)
        if app.release is None or app.state == State.STOPPED:
            return
        with self._lock(app.id):
            release = self._release(app, app.release)
            try:
                self.driver.start(self._run_release(app, release, release.processes or {}))
            except StartError as e:
                self._note(app, f"scaling to {instances} did not start: {e.message}")
                raise Conflict(
                    f"app '{app.name}' did not start {instances} instances: {e.message}",
                    f"see why with `rig logs {app.name} --network {app.network}`",
                ) from None

    def stop(self, app: App) -> None:
        if app.release is None:
            raise Conflict(f"app '{app.name}' has no running release", "there is nothing to stop")
        self.driver.stop(app.key)

    def remove(self, app: App) -> None:
        """Stop the app's processes and forget its artifacts, releases and logs."""
        self.driver.stop(app.key)
        self.cgroups.remove(app.key)
        self.layout.remove_app(app.network, app.name)
        if self.isolation.active:  # a later app may get its id (and so its uid)
            shutil.rmtree(self._tools(app).root, ignore_errors=True)
        self.logs.delete(log_key(app.network, app.name))
        self.logs.delete(build_log_key(app.network, app.name))

    def remove_network(self, network: str) -> None:
        """Forget a deleted network's log and homes (its apps are removed first)."""
        self.logs.delete(network_log_key(network))
        self.cgroups.remove(network)
        self.layout.remove_network(network)
        if network in self._network_ids:
            network_id = self._network_ids.pop(network)
            self.namespaces.remove(network_id)
            self.egress.forget(self.namespaces.name(network_id))

    def disk_usage(self, app: App) -> int:
        """Bytes the app takes on disk: its builds, artifacts, home and logs (measured at most
        every DISK_TTL seconds: walking a release with its ``node_modules`` is not free)."""
        now = time.monotonic()
        cached = self._disk.get(app.key)
        if cached is not None and now - cached[0] < DISK_TTL:
            return cached[1]
        used = self.layout.disk_usage(app.network, app.name) + sum(
            self.logs.file_size(key)
            for key in (log_key(app.network, app.name), build_log_key(app.network, app.name))
        )
        self._disk[app.key] = (now, used)
        return used

    def status(self, app: App) -> AppStatus | None:
        """The driver's figures for an app that has a release."""
        return self.driver.status(app.key) if app.release is not None else None

    def resolve(self, network: str, name: str) -> tuple[tuple[str, int], ...] | Unavailable:
        """For the route table (``maxlocal.edge.routes``), the one place upstreams are
        verified: the ports of the app's ``web`` instances that are alive and own the listener
        on their port as (instance, port), e.g. ``(("web.1", 40123),)``, or why there is none
        (for the owner)."""
        key = f"{network}/{name}"
        port = self.driver.port(key)
        verified = tuple(self.driver.verified_ports(key)) if port is not None else ()
        if verified:
            return verified
        if port is not None and self.driver.foreign_listener(key):
            return Unavailable.foreign_listener(name, network)
        if port is not None:
            return Unavailable(
                503,
                f"App {name!r} in network {network!r} is not accepting connections on its "
                f"port (restarting?). See: rig status app {name} --network {network}",
            )
        app = self.apps.by_key(network, name)
        if app is None:
            return Unavailable.unknown(name, network)
        if app.state == State.STOPPED:
            return Unavailable.stopped(name, network)
        if app.release is None and app.state == State.FAILED:
            return Unavailable.failed(name, network)
        if app.release is None:
            return Unavailable.not_deployed(name, network)
        return Unavailable(
            503,
            f"App {name!r} in network {network!r} is not serving (state: {app.state}). "
            f"See: rig status app {name} --network {network}",
        )

    def exec_target(self, network: Network, app: App | None) -> ExecTarget:
        """``app``'s active release directory, the environment that release runs with (vars
        and secrets as of the release) and its sandbox and limits; without ``app``, the
        network's working directory (``<data>/networks/<network>``) with its own vars and
        secrets. Processes carry the platform's marker, so strays are found after a crash."""
        extra = {MARKER_VAR: self.marker}
        if app is None:
            entries = self.env.entries(Scope(network.id))
            values = {e.key: e.value or "" for e in entries if e.kind == "var"}
            secrets = {
                e.key: self.vault.decrypt(e.ciphertext or b"")
                for e in entries
                if e.kind == "secret"
            }
            cwd = self.layout.network_dir(network.name)
            home = self.layout.home(network.name)
            env = child_env({**values, **secrets, **extra}, home=home)
            box = self.network_sandbox(network.id, cwd, home)
            run = functools.partial(
                launch, sandbox=box, cgroup=self.session_cgroup(network.name, None)
            )
            return ExecTarget(cwd, env, network.name, tuple(secrets.values()), run)
        release = self.releases.get(app.id, app.release) if app.release else None
        if release is None:
            raise Conflict(f"app '{app.name}' has no release yet: deploy it first")
        directory = self.layout.release_dir(app.network, app.name, release.artifact_release)
        secrets = {k: self.vault.decrypt(v.encode("ascii")) for k, v in release.env.secrets.items()}
        home = self._home(app)
        env = child_env({**release.env.vars, **secrets, **extra}, directory, home=home)
        box, cgroup = self.app_sandbox(app, directory), self.session_cgroup(app.network, app)
        run = functools.partial(launch, sandbox=box, cgroup=cgroup)
        return ExecTarget(directory, env, f"{app.name}.{app.network}", tuple(secrets.values()), run)

    def serving(self) -> list[str]:
        """The keys of the apps whose current release has a web process (verified or not)."""
        return self.driver.serving()

    def note(self, app: str, line: str) -> None:
        """A line of the platform's own in the app's log (e.g. why the router stopped
        forwarding to it)."""
        self._on_log(app, "platform", line)

    def access_lines(self, app: str, lines: list[str]) -> None:
        """The router's access lines for the app's log, stream ``router``."""
        self._on_lines(app, "router", lines, process="router")

    # -- the worker

    def _submit(self, app: App, release: Release) -> None:
        self._spawn(self._work, app, release.id, name=f"release-{app.key}-{release.number}")

    def _work(self, app: App, release_id: int) -> None:
        with self._lock(app.id):
            release = self.releases.by_id(release_id)
            if release is not None:
                self._deploy(app, release)

    def _deploy(self, app: App, release: Release) -> None:
        phase = "unpack"
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        try:
            processes = release.processes or {}
            if release.source == "deploy" and release.image is None:  # an image is not built
                self._progress(app, release, "building", set_app_state=True)
                directory = self.layout.release_dir(app.network, app.name, release.number)
                unpack(self.layout.artifact(app.network, app.name, release.number), directory)
                phase = "build"
                plan = make_plan(DiskSource(directory), self._tools(app))
                processes = plan.processes
                self.releases.set_status(release.id, "building", processes)
                self._build(app, release, plan, directory, tail)
            phase = "start"
            self._progress(app, release, "starting")
            self.driver.start(self._run_release(app, release, processes))
        except ArtifactError as e:
            self._fail(app, release, "unpack", e.message, [])
        except ProcfileError as e:
            self._fail(app, release, "build", e.message, [])
        except _BuildFailed as e:
            self._fail(app, release, "build", str(e), list(tail))
        except StartError as e:
            self._fail(app, release, "start", e.message, e.tail)
        except Exception:
            log.exception("release %d of %s failed", release.number, app.key)
            self._fail(app, release, phase, "internal error in the platform", list(tail))
        else:
            if self._app_of(release) is None:
                self.driver.stop(app.key)
                return
            self.releases.activate(release)
            self._release_changed(app, release.number, "active")
            self._note(app, f"release {release.number} is active")
            self._prune(app, release)

    def _prune(self, app: App, active: Release) -> None:
        """Remove the builds of deploys older than the last ``keep_releases`` (never the one
        ``active`` runs); a rollback to one of them says it was pruned."""
        deploys = [r for r in self.releases.of_app(app.id) if r.source == "deploy"]
        for old in deploys[self.keep_releases :]:
            if old.number == active.artifact_release:
                continue
            built = self.layout.release_dir(app.network, app.name, old.number)
            artifact = self.layout.artifact(app.network, app.name, old.number)
            if built.is_dir() or artifact.exists():
                self.layout.remove_release(app.network, app.name, old.number)
                self._note(
                    app,
                    f"release {old.number} pruned: the builds of the last "
                    f"{self.keep_releases} deploys are kept",
                )

    def pruned(self, app: App, release: Release) -> bool:
        """Whether ``release``'s build is gone (pruned, or failed before it was kept)."""
        built = self.layout.release_dir(app.network, app.name, release.artifact_release)
        return not built.is_dir()

    def _progress(
        self, app: App, release: Release, status: Status, *, set_app_state: bool = False
    ) -> None:
        self.releases.set_status(release.id, status)
        self._release_changed(app, release.number, status)
        if set_app_state and not self._serving(app):
            self._set_state(app.key, State(status), {"release": release.number})

    def _build(
        self, app: App, release: Release, plan: Plan, directory: Path, tail: deque[str]
    ) -> None:
        """Carry the release's build plan out, every line into its build log."""
        key = build_log_key(app.network, app.name)

        def line(stream: str, text: str) -> None:
            tail.append(text)
            self.logs.append(key, stream, text, release=release.number)

        def note(text: str) -> None:
            self.logs.append(key, "platform", text, release=release.number)

        variables, home = self._env(release.env), self._home(app)
        # A fresh group for every build: a reused one keeps the page cache charged by the
        # app's earlier builds (~5 MiB an npm ci) until a later build starts at its memory
        # limit and has to reclaim. Removing the group hands its charge to the parent.
        self.cgroups.remove(app.key, "build")
        cgroup = self.cgroups.group((app.key, "build"), for_build(self.resources(directory)))
        started = time.monotonic()
        try:
            box = self._build_box(app, directory)
            env = functools.partial(child_env, variables, directory, home=home)
            execute(plan, directory, env, line, note, box, cgroup)
        except StepFailed as e:
            raise _BuildFailed(str(e)) from e
        finally:
            if cgroup is not None:
                cgroup.kill()
                cgroup.remove()
        note(f"build done in {time.monotonic() - started:.1f} s")
        kept = self.layout.keep_envs
        if pruned := envs.prune(self._tools(app).envs, self.layout.releases, kept):
            log.info("pruned %d unused dependency environments: %s", len(pruned), pruned)

    def _fail(
        self, app: App, release: Release, phase: str, reason: str, log_tail: list[str]
    ) -> None:
        if self._closing.is_set():
            return
        self.releases.fail(release.id, phase, reason, log_tail)
        error = {"reason": reason, "phase": phase, "log_tail": log_tail}
        self._release_changed(app, release.number, "failed", {"error": error})
        self._note(app, f"release {release.number} failed ({phase}): {reason}")
        current = self.apps.by_key(app.network, app.name)
        first_built = phase == "start" and current is not None and current.release is None
        if release.source == "deploy" and not first_built:  # kept: a retry runs that build
            self.layout.remove_release(app.network, app.name, release.number)
        if current is not None and current.state == State.BUILDING:
            self._set_state(app.key, State.FAILED, {"release": release.number, "reason": reason})

    def _resume(self, app: App) -> None:
        try:
            self.start(app)
        except Exception:
            log.exception("could not start %s again", app.key)

    # -- helpers

    def _rerelease(
        self,
        app: App,
        base: Release,
        source: Any,
        env: Snapshot,
        created_by: str,
        message: str,
    ) -> Release:
        new = NewRelease(
            source=source,
            checksum=base.checksum,
            size=base.size,
            env=env,
            created_by=created_by,
            message=message,
            git=base.git,
            artifact_release=base.artifact_release,
            processes=base.processes,
            image=base.image,
            image_digest=base.image_digest,
        )
        release = self.releases.create(app.id, new)
        self._release_changed(app, release.number, "pending")
        return release

    def _retryable(self, app: App) -> Release | None:
        """The latest release of an app that never ran one, when it was built and only failed
        to start (its build is kept for this): what a restart or a config change retries."""
        latest = next(iter(self.releases.of_app(app.id)), None)
        if latest is None or latest.status != "failed":
            return None
        if (latest.error or {}).get("phase") != "start":
            return None
        built = self.layout.release_dir(app.network, app.name, latest.artifact_release)
        return latest if built.is_dir() else None

    def _nothing_to_run(self, app: App) -> Conflict:
        """Why an app without a running release cannot start, in terms of its state."""
        deploy = f"`rig deploy --app {app.name} --network {app.network}`"
        latest = next(iter(self.releases.of_app(app.id)), None)
        if latest is None:
            return Conflict(f"app '{app.name}' has no release yet", f"deploy it first: {deploy}")
        if latest.status != "failed":
            return Conflict(
                f"app '{app.name}' is deploying release {latest.number} ({latest.status})",
                f"see it with `rig status app {app.name} --network {app.network}`",
            )
        phase = (latest.error or {}).get("phase", "deploy")
        return Conflict(
            f"app '{app.name}' is failed: release {latest.number} failed during {phase} and "
            "no release has run",
            f"see why with `rig logs build {app.name} --network {app.network}`, fix it and "
            f"deploy again: {deploy}",
        )

    def _rollback_target(self, app: App, to: int | None) -> Release:
        if to is not None:
            target = self.releases.get(app.id, to)
            if target is None:
                raise NotFound(
                    f"release {to} of app '{app.name}' not found",
                    f"run `rig list releases --app {app.name}` to see them",
                )
            if target.status not in ("active", "superseded"):
                raise Conflict(
                    f"release {to} never ran (it is {target.status}); it cannot be rolled back to"
                )
            if self.pruned(app, target):
                raise Conflict(
                    f"release {to} of app '{app.name}' was pruned: the platform keeps the builds "
                    f"of the last {self.keep_releases} deploys",
                    "roll back to a later release, or deploy that version again",
                )
            return target
        earlier = [
            r
            for r in self.releases.of_app(app.id)
            if r.status == "superseded" and (app.release is None or r.number < app.release)
        ]
        kept = [r for r in earlier if not self.pruned(app, r)]
        if app.release is None or not kept:
            why = " (older ones were pruned)" if earlier else ""
            raise Conflict(
                f"app '{app.name}' has no earlier release to roll back to{why}",
                f"run `rig list releases --app {app.name}` to see its releases",
            )
        return kept[0]

    def _release(self, app: App, number: int) -> Release:
        release = self.releases.get(app.id, number)
        if release is None:
            raise NotFound(f"release {number} of app '{app.name}' not found")
        return release

    def _run_release(self, app: App, release: Release, processes: dict[str, str]) -> RunRelease:
        directory = self.layout.release_dir(app.network, app.name, release.artifact_release)
        if release.image is None:  # an image release's directory holds no source
            ensure_python(
                directory,
                self._tools(app),
                lambda line: self._note(app, line),
                lambda: self._build_box(app, directory),
            )
        fresh = self.apps.by_key(app.network, app.name)  # `rig scale` may have changed it
        return RunRelease(
            app.key,
            release.number,
            directory,
            processes,
            self._env(release.env),
            self._home(app),
            self.app_sandbox(app, directory),
            self.resources(directory),
            instances=(fresh or app).instances or self._declared_instances(directory),
        )

    def _declared_instances(self, directory: Path) -> int:
        """``[processes] web = {command = ..., instances = N}`` of the release, else 1."""
        try:
            return declared(DiskSource(directory)).toml.instances or 1
        except (ProcfileError, OSError):
            return 1

    def resources(self, directory: Path) -> Resources:
        """The limits of the release built in ``directory``: its ``rig.toml`` ``[resources]``
        over the platform's defaults (checked when it was built)."""
        try:
            table = declared(DiskSource(directory)).toml.resources
            return resources_from(table, self.cgroups.defaults) if table else self.cgroups.defaults
        except (ProcfileError, LimitError, OSError):
            return self.cgroups.defaults

    def session_cgroup(self, network: str, app: App | None) -> Cgroup | None:
        """Where an exec session into ``app`` (or the network) runs: beside the app's own
        processes, with the limits of its active release (the defaults for a network)."""
        if app is None or app.release is None:
            return self.cgroups.group((network, "exec"), self.cgroups.defaults)
        release = self._release(app, app.release)
        directory = self.layout.release_dir(app.network, app.name, release.artifact_release)
        return self.cgroups.group((app.key, "exec"), self.resources(directory))

    def _home(self, app: App) -> Path:
        return self.layout.home(app.network, app.name)

    # -- sandboxes (see runtime.sandbox): one place decides what each tenant process sees

    def app_sandbox(self, app: App, directory: Path) -> Sandbox | None:
        """An app's processes and exec sessions: its release read-only (with the
        environments it links), its home writable, as the app's own uid."""
        uid, home = app_uid(app.id), self._home(app)
        self.isolation.give(directory, uid)
        self.isolation.give(home, uid)
        layers = linked_layers(directory)
        return self.isolation.sandbox(
            uid,
            read_only=[directory, *layers],
            writable=[home],
            network=self._namespace(app),
        )

    def network_sandbox(self, network_id: int, cwd: Path, home: Path) -> Sandbox | None:
        """A network's own sessions: its working directory and home, as the network's uid."""
        uid = network_uid(network_id)
        for path in (cwd, home):
            self.isolation.give(path, uid)
        network = self.namespaces.get(network_id) if self.isolation.active else None
        return self.isolation.sandbox(uid, writable=[cwd, home], network=network)

    def _namespace(self, app: App) -> NetworkNamespace | None:
        """The app's network's namespace (made when first needed); None when off."""
        if not self.isolation.active:
            return None
        self._network_ids[app.network] = app.network_id
        return self.namespaces.get(app.network_id)

    def _tools(self, app: App) -> Toolbox:
        """What the app's builds use: sandboxed, an area of its own (``Toolbox.for_app``),
        else the cache every app shares (one trust domain)."""
        return self.tools.for_app(self.marker, app.id) if self.isolation.active else self.tools

    def _build_box(self, app: App, directory: Path) -> BuildBox | None:
        if not self.isolation.active:
            return None
        uid, home, tools = app_uid(app.id), self._home(app), self._tools(app)
        # The area and its envs/ stay the platform's, so that no build can swap them for a
        # link the platform would write through; the download caches are the tenant's.
        tools.envs.mkdir(parents=True, exist_ok=True)
        for cache in tools.download_caches:
            cache.mkdir(exist_ok=True)
            self.isolation.give(cache, uid)
        self.isolation.give(directory, uid)
        self.isolation.give(home, uid)
        network = self._namespace(app)
        return BuildBox(
            self.isolation,
            uid,
            directory,
            home,
            tools.root,
            network=network,
            env=self.egress.env_for(network),
        )

    def _env(self, snapshot: Snapshot) -> dict[str, str]:
        secrets = {k: self.vault.decrypt(v.encode("ascii")) for k, v in snapshot.secrets.items()}
        return {**snapshot.vars, **secrets, MARKER_VAR: self.marker}

    def _serving(self, app: App) -> bool:
        return self.driver.status(app.key).state in _SERVING

    def _app_of(self, release: Release) -> App | None:
        return next((a for a in self.apps.everything() if a.id == release.app_id), None)

    def _lock(self, app_id: int) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(app_id, threading.Lock())

    def _spawn(self, target: Callable[..., None], *args: Any, name: str) -> None:
        threading.Thread(target=target, args=args, name=name, daemon=True).start()

    def _note(self, app: App, line: str) -> None:
        self._on_log(app.key, "platform", line)

    def _on_log(self, app: str, stream: str, line: str, *, process: str | None = None) -> None:
        self._on_lines(app, stream, [line], process=process)

    def _on_lines(
        self, app: str, stream: str, lines: list[str], *, process: str | None = None
    ) -> None:
        network, name = app.split("/", 1)
        self.logs.append_many(app, stream, lines, process=process)
        self.logs.append_many(network_log_key(network), stream, lines, process=process, app=name)

    def _release_changed(
        self, app: App, number: int, status: str, details: dict[str, Any] | None = None
    ) -> None:
        for listener in list(self.release_listeners):
            try:
                listener(app.key, number, status, details or {})
            except Exception:
                log.exception("release listener failed")

    def _on_state(self, app: str, state: State, details: dict[str, Any]) -> None:
        self._set_state(app, state, details)

    def _set_state(self, app: str, state: State, details: dict[str, Any]) -> None:
        network, name = app.split("/", 1)
        self.apps.set_state(network, name, state.value)
        for listener in list(self.state_listeners):
            try:
                listener(app, state.value, details)
            except Exception:
                log.exception("state listener failed")


def runtime_arguments(options: RuntimeOptions, stores: Stores) -> dict[str, Any]:
    """``Runtime``'s arguments from a driver factory's (the process driver's, and those of a
    driver built on it: ``swarm``)."""
    return {
        "layout": options.layout,
        "apps": stores.apps,
        "releases": stores.releases,
        "env": stores.env,
        "vault": stores.vault,
        "log_limit": options.log_limit,
        "log_bytes": options.log_bytes,
        "health_timeout": options.health_timeout,
        "isolation": options.isolation,
        "keep_releases": options.keep_releases,
        "cgroups": options.cgroups,
    }


def process_driver(options: RuntimeOptions, stores: Stores) -> RuntimeDriver:
    """The ``process`` driver's factory (``runtime.driver``'s registry)."""
    return Runtime(**runtime_arguments(options, stores))
