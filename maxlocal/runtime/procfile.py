"""What a release builds and runs: ``rig.toml`` (``build``, ``[processes]``) or a ``Procfile``.

``[processes]`` in ``rig.toml`` wins over the ``Procfile``; ``build`` only comes from
``rig.toml``. Other keys in ``rig.toml`` (app, network, ...) belong to the client and
are ignored here.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PROCESS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


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
    if not PROCESS_NAME.match(name):
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


def parse_rig_toml(text: str) -> tuple[str | None, dict[str, str]]:
    """(build command, processes) from the text of a ``rig.toml``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProcfileError(f"rig.toml is not valid TOML: {exc}") from exc
    build = data.get("build")
    if build is not None and (not isinstance(build, str) or not build.strip()):
        raise ProcfileError("rig.toml: 'build' must be a non-empty string")
    table = data.get("processes", {})
    if not isinstance(table, dict):
        raise ProcfileError('rig.toml: [processes] must be a table of name = "command"')
    processes: dict[str, str] = {}
    for name, command in table.items():
        _check_name(name, "rig.toml [processes]")
        if not isinstance(command, str) or not command.strip():
            raise ProcfileError(f"rig.toml [processes]: {name!r} must be a non-empty string")
        processes[name] = command.strip()
    return (build.strip() if build else None), processes


def load_spec(release_dir: str | Path) -> AppSpec:
    """Read the release's ``rig.toml`` and ``Procfile``; raise when nothing is to be run."""
    release_dir = Path(release_dir)
    build: str | None = None
    toml_processes: dict[str, str] = {}
    toml_path = release_dir / "rig.toml"
    if toml_path.is_file():
        build, toml_processes = parse_rig_toml(toml_path.read_text(encoding="utf-8"))
    procfile_path = release_dir / "Procfile"
    has_procfile = procfile_path.is_file()
    if toml_processes:
        warnings = ["rig.toml [processes] is used; the Procfile is ignored"] if has_procfile else []
        return AppSpec(toml_processes, build, "rig.toml", warnings)
    if has_procfile:
        processes = parse_procfile(procfile_path.read_text(encoding="utf-8"))
        if processes:
            return AppSpec(processes, build, "Procfile")
    raise ProcfileError(
        "nothing to run: add a Procfile (e.g. 'web: python -m http.server $PORT') "
        "or a [processes] table to rig.toml"
    )
