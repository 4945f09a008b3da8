"""The runtime-driver seam: what the platform asks of whatever runs its apps, and which one runs.

The HTTP layer (``api/``), the realtime socket (``live.py``), remote access (``remote/``) and
the server depend on ``RuntimeDriver`` only; ``create`` is the one place that turns a name
(``maxlocal serve --runtime NAME``) into a concrete driver. Today's ``process`` driver is
``runtime.core.Runtime`` (tenant processes in a sandbox on this machine); a cluster driver
(Docker Swarm, later Kubernetes) registers a factory under its own name here. docs/runtimes.md
maps every operation to each engine.

The driver owns the engine; the platform owns the records: the store (apps, releases, env) and
the ``LogStore`` the driver writes every instance's lines into, stamped with the instance (so
``rig logs -f`` follows new instances across a rollout without knowing the engine). This module
imports no driver until one is chosen.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from maxlocal.runtime.logstore import DEFAULT_LIMIT, DEFAULT_LIMIT_BYTES

if TYPE_CHECKING:
    import subprocess

    from maxlocal.builders.toolbox import Toolbox
    from maxlocal.crypto import Vault
    from maxlocal.layout import Layout
    from maxlocal.runtime.cgroups import Cgroups
    from maxlocal.runtime.imageref import ImageRef, RegistryAuth
    from maxlocal.runtime.logstore import LogStore
    from maxlocal.runtime.router import Unavailable
    from maxlocal.runtime.supervisor import AppStatus
    from maxlocal.store.apps import App, Apps
    from maxlocal.store.env import Env
    from maxlocal.store.networks import Network
    from maxlocal.store.releases import NewRelease, Release, Releases, Snapshot

DEFAULT_RUNTIME = "process"
DEFAULT_KEEP_RELEASES = 10
"""The builds (artifact and release directory, or image) of the last this many deploys of an
app are kept, for rollbacks; older ones are pruned, never the active release's."""

StateListener = Callable[[str, str, dict[str, Any]], object]
"""``listener(app_key, state, details)``, e.g. ``("shop/api", "running", {"release": 3})``."""
ReleaseListener = Callable[[str, int, str, dict[str, Any]], object]
"""``listener(app_key, number, status, details)``, e.g. ``("shop/api", 3, "building", {})``;
a failed release's details are its ``error``."""
Upstream = tuple[str, int]
"""``(instance, port)`` on loopback, e.g. ``("web.1", 40123)``: where the router forwards."""


@dataclass(frozen=True)
class DriverInfo:
    """What runs the apps, for ``/api/v1/health``, ``server.json`` and ``rig local status``."""

    name: str
    """The registered name (``process``)."""
    detail: str
    """One line for people: what an instance is on this engine."""
    isolation: dict[str, str]
    """``{"mode", "detail"}``: what tenant processes (or containers) run in."""
    limits: dict[str, object]
    """``{"mode", "detail", "defaults", "summary"}``: per-app resource limits."""
    log_lines: tuple[str, ...] = ()
    """What the platform's log says of it at start-up (``isolation: ...``, ``limits: ...``)."""
    outlives_platform: bool = False
    """Whether the apps keep running while the platform is stopped (an engine of its own,
    e.g. Swarm), so ``reconcile`` adopts them untouched; else they stop with it and
    ``reconcile`` starts them again."""

    def runtime(self) -> dict[str, object]:
        """``{"name", "detail", "outlives_platform"}``, as health and server.json say it."""
        outlives = self.outlives_platform
        return {"name": self.name, "detail": self.detail, "outlives_platform": outlives}


class Launcher(Protocol):
    """Starts a session's process where the driver runs the app: ``subprocess.Popen``'s
    ``popen`` arguments (pipes, or the pseudo-terminal and ``preexec_fn``) are the session's,
    so the session machinery (``remote/sessions.py``: PTY, resize, signals, exit codes) is the
    same for every driver. The process driver's starts it in the app's sandbox and cgroup; a
    container driver's starts a local bridge to the engine's exec (as ``docker exec -it`` is)."""

    def __call__(
        self, argv: list[str], cwd: Path, env: Mapping[str, str], **popen: Any
    ) -> subprocess.Popen[bytes]: ...


@dataclass(frozen=True)
class ExecTarget:
    """Where an exec session (``rig command``, ``rig shell``) runs, as the driver resolved it.
    ``env`` is the whole environment of its processes (what the app's own instances get);
    ``label`` names it for people (the shell's prompt); ``secret_values`` are masked in the
    audit; ``launcher`` starts its process (None: a plain local process, for tests)."""

    cwd: Path
    env: Mapping[str, str]
    label: str
    secret_values: Collection[str] = ()
    launcher: Launcher | None = None


@dataclass(frozen=True)
class RuntimeOptions:
    """What any driver is built with (``maxlocal serve`` options)."""

    layout: Layout
    log_limit: int = DEFAULT_LIMIT
    """Lines kept per app."""
    log_bytes: int = DEFAULT_LIMIT_BYTES
    health_timeout: float = 30.0
    isolation: str = "auto"
    """auto, sandbox or none: see ``runtime.sandbox.choose``."""
    keep_releases: int = DEFAULT_KEEP_RELEASES
    cgroups: Cgroups | None = None
    driver: str = DEFAULT_RUNTIME
    """The registered name of the driver to run (``names()``)."""


@dataclass(frozen=True)
class Stores:
    """The platform's records a driver reads and updates (it never owns them)."""

    apps: Apps
    releases: Releases
    env: Env
    vault: Vault


class RuntimeDriver(Protocol):
    """Everything the platform asks of the engine that runs its apps.

    An app runs its active release as N instances of its ``web`` process (and one of each other
    process), with the release's environment snapshot, the limits of its ``rig.toml`` and a
    health check; a new release (deploy, config change, rollback, scale) is started beside the
    old one and the switch happens only once it is healthy (start-first). App states and
    release progress are told to the listeners; every instance's output goes into ``logs``."""

    layout: Layout
    """The platform's data directory: uploads, builds, homes."""
    tools: Toolbox
    """What builds (and build plans) use: dependency environments and downloads."""
    logs: LogStore
    """Where every instance's lines go, stamped with the instance, under the app's key."""
    state_listeners: list[StateListener]
    release_listeners: list[ReleaseListener]

    def describe(self) -> DriverInfo: ...

    # -- start-up and shut-down
    def reconcile(self) -> None:
        """After a platform (re)start: the engine is the source of truth for what runs; the
        store's half-done releases are failed and its apps brought in line with it."""

    def close(self) -> None:
        """The platform stops: what must not outlive it stops (the apps stay ``running`` in
        the store, to be reconciled)."""

    # -- releases: build one into what the driver runs, then run it
    def accept_upload(self, app: App, upload: Path, new: NewRelease) -> Release: ...
    def accept_image(
        self, app: App, image: ImageRef, auth: RegistryAuth | None, new: NewRelease
    ) -> Release:
        """An image deploy: resolve ``image`` to its digest with ``auth`` (errors said before
        anything is recorded: missing image, refused credentials, unreachable registry), record
        the release with both, then pull, make it runnable and run it as ``accept_upload``
        does a build. RuntimeUnsupported from a driver that runs no images."""
        ...

    def config_release(self, app: App, created_by: str, message: str) -> Release | None: ...
    def rollback(self, app: App, to: int | None, created_by: str) -> tuple[Release, int]: ...
    def env_changed(self, app: App, release: Release) -> list[str]: ...
    def snapshot(self, app: App) -> Snapshot: ...

    # -- lifecycle
    def start(self, app: App, by: str | None = None) -> None: ...
    def stop(self, app: App) -> None: ...
    def scale(self, app: App, instances: int) -> None: ...
    def remove(self, app: App) -> None: ...
    def remove_network(self, network: str) -> None: ...

    # -- figures
    def status(self, app: App) -> AppStatus | None: ...
    def disk_usage(self, app: App) -> int: ...

    # -- the router
    def resolve(self, network: str, name: str) -> tuple[Upstream, ...] | Unavailable:
        """The one place upstreams are verified: the app's healthy web instances, or why
        there is none."""
        ...

    def serving(self) -> list[str]: ...
    def note(self, app: str, line: str) -> None: ...
    def access_lines(self, app: str, lines: list[str]) -> None: ...

    # -- exec
    def exec_target(self, network: Network, app: App | None) -> ExecTarget:
        """Where a session into ``app`` (its active release, that release's environment) or,
        without one, into the network itself runs; JoinRefused when the app has no release."""
        ...


DriverFactory = Callable[[RuntimeOptions, Stores], RuntimeDriver]

_REGISTRY: dict[str, str] = {
    "process": "maxlocal.runtime.core:process_driver",
    "swarm": "maxlocal.runtime.swarm.driver:swarm_driver",
}
"""Driver name → ``module:factory``, imported only when that driver is chosen (a driver's
engine client is not loaded by a platform that does not use it). A driver is added here, once
it works: every name here runs the driver-conformance suite (tests/runtime_driver/)."""


class UnknownRuntime(ValueError):
    """A ``--runtime`` name nothing is registered under."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown runtime {name!r}: the registered ones are {', '.join(names())}")


class RuntimeUnavailable(Exception):
    """A registered driver whose engine is not there (no Docker engine in swarm mode): said
    at start-up in one line, with ``hint``."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def names() -> list[str]:
    """The registered driver names, in order."""
    return list(_REGISTRY)


def check(name: str) -> str:
    """``name`` if a driver is registered under it, else UnknownRuntime."""
    if name not in _REGISTRY:
        raise UnknownRuntime(name)
    return name


def create(options: RuntimeOptions, stores: Stores) -> RuntimeDriver:
    """The driver ``options.driver`` names, built: the platform's one selection point."""
    module, _, attr = _REGISTRY[check(options.driver)].partition(":")
    factory: DriverFactory = getattr(importlib.import_module(module), attr)
    return factory(options, stores)
