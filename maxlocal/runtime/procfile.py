"""What a release declares about building and running: ``rig.toml`` and a ``Procfile``.

``[processes]`` in ``rig.toml`` wins over the ``Procfile``; ``build``, ``builder``,
``python``, ``build_timeout`` and ``[resources]`` only come from ``rig.toml``. Other keys in
``rig.toml`` (app, network, ...) belong to the client and are ignored here. What is not
declared is detected (``maxlocal.builders``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from maxlocal.runtime.cgroups import LimitError, resources_from

PROCESS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")  # fullmatch: no trailing newline


class ProcfileError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AppSpec:
    processes: dict[str, str]
    build: str | None = None
    source: str = "Procfile"
    warnings: list[str] = field(default_factory=list)


def _check_name(name: str, where: str) -> None:
    if not PROCESS_NAME.fullmatch(name):
        raise ProcfileError(
            f"{where}: invalid process name {name!r} (letters, digits, '-' and '_')"
        )


def parse_procfile(text: str) -> dict[str, str]:
    """``name: command`` lines; blank lines and ``#`` comments are skipped."""
    processes: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"Procfile line {number}"
        name, sep, command = line.partition(":")
        name, command = name.strip(), command.strip()
        if not sep:
            raise ProcfileError(f"{where}: expected 'name: command', got {line!r}")
        _check_name(name, where)
        if not command:
            raise ProcfileError(f"{where}: process {name!r} has no command")
        if name in processes:
            raise ProcfileError(f"{where}: process {name!r} is defined twice")
        processes[name] = command
    return processes


@dataclass(frozen=True)
class RigToml:
    """What ``rig.toml`` says about building and running (docs/builds.md)."""

    build: str | None = None
    processes: dict[str, str] = field(default_factory=dict)
    builder: str | None = None
    python: str | None = None
    build_timeout: float | None = None
    resources: dict[str, object] | None = None
    """``[resources]`` as given (checked): over the platform's defaults, the app's limits."""
    instances: int | None = None
    """``web = {command = "...", instances = N}``: how many web processes run, unless the
    app was scaled with ``rig scale`` (which wins)."""


BUILDER_NAMES = ("python", "node", "static", "none")


def parse_rig_toml(text: str) -> RigToml:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProcfileError(f"rig.toml is not valid TOML: {exc}") from exc
    build = _optional_string(data, "build")
    builder = _optional_string(data, "builder")
    if builder is not None and builder not in BUILDER_NAMES:
        raise ProcfileError(f"rig.toml: 'builder' must be one of {', '.join(BUILDER_NAMES)}")
    timeout = data.get("build_timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise ProcfileError("rig.toml: 'build_timeout' must be a positive number of seconds")
    table = data.get("processes", {})
    if not isinstance(table, dict):
        raise ProcfileError('rig.toml: [processes] must be a table of name = "command"')
    processes: dict[str, str] = {}
    instances: int | None = None
    for name, command in table.items():
        _check_name(name, "rig.toml [processes]")
        if isinstance(command, dict):
            command, count = _process_table(name, command)
            instances = count if name == "web" else instances
        if not isinstance(command, str) or not command.strip():
            raise ProcfileError(f"rig.toml [processes]: {name!r} must be a non-empty string")
        processes[name] = command.strip()
    python = _optional_string(data, "python")
    resources = data.get("resources")
    if resources is not None:
        try:
            resources_from(resources)
        except LimitError as exc:
            raise ProcfileError(f"rig.toml {exc}") from exc
    return RigToml(
        build,
        processes,
        builder,
        python,
        float(timeout) if timeout else None,
        resources,
        instances,
    )


MAX_INSTANCES = 16
"""The most web processes an app may run (``rig scale``, ``rig.toml``): each is a process, a
port and a forwarder on a small machine; the edge's configuration has a rule per instance."""


def _process_table(name: str, table: dict[str, object]) -> tuple[object, int | None]:
    """``{command = "...", instances = N}`` → (command, N); only ``web`` runs several."""
    unknown = sorted(set(table) - {"command", "instances"})
    if unknown:
        raise ProcfileError(
            f"rig.toml [processes]: {name!r} has unknown keys {', '.join(unknown)} "
            '(a process is a command string, or {command = "...", instances = N})'
        )
    count = table.get("instances")
    if count is None:
        return table.get("command"), None
    if name != "web":
        raise ProcfileError(f"rig.toml [processes]: only web runs several instances, not {name!r}")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_INSTANCES:
        raise ProcfileError(
            f"rig.toml [processes]: web's instances must be a whole number from 1 to "
            f"{MAX_INSTANCES}"
        )
    return table.get("command"), count


def _optional_string(data: dict[str, object], key: str) -> str | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ProcfileError(f"rig.toml: '{key}' must be a non-empty string")
    return value.strip() if isinstance(value, str) else None


class Files(Protocol):
    def read(self, path: str) -> str | None: ...
    def exists(self, path: str) -> bool: ...


@dataclass(frozen=True)
class Declared:
    """What a release declares itself: ``rig.toml`` and the ``Procfile`` together."""

    toml: RigToml
    processes: dict[str, str]
    source: str  # where the processes come from: "Procfile", "rig.toml" or ""
    warnings: list[str] = field(default_factory=list)


def declared(files: Files) -> Declared:
    """Read the release's ``rig.toml`` and ``Procfile`` (``[processes]`` wins)."""
    toml = RigToml()
    if files.exists("rig.toml"):
        toml = parse_rig_toml(files.read("rig.toml") or "")
    has_procfile = files.exists("Procfile")
    if toml.processes:
        warnings = ["rig.toml [processes] is used; the Procfile is ignored"] if has_procfile else []
        return Declared(toml, toml.processes, "rig.toml", warnings)
    if has_procfile:
        processes = parse_procfile(files.read("Procfile") or "")
        if processes:
            return Declared(toml, processes, "Procfile")
    return Declared(toml, {}, "")


class _Disk:
    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, path: str) -> str | None:
        return (self.root / path).read_text(encoding="utf-8")

    def exists(self, path: str) -> bool:
        return (self.root / path).is_file()


def load_spec(release_dir: str | Path) -> AppSpec:
    """The processes and build a release declares; raise when it declares nothing to run."""
    found = declared(_Disk(Path(release_dir)))
    if not found.processes:
        raise ProcfileError(
            "nothing to run: add a Procfile (e.g. 'web: python -m http.server $PORT') "
            "or a [processes] table to rig.toml"
        )
    return AppSpec(found.processes, found.toml.build, found.source, found.warnings)
