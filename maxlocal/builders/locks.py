"""The pins of a ``Pipfile.lock`` or a ``poetry.lock``, for ``uv pip install`` (or pip).

Neither pipenv nor poetry is needed: a lock already names every package and version, so
the platform reads those (with their environment markers) and installs them like a
requirements file. Read cheaply on purpose: no hashes are checked, and only packages
from the package index are supported (a git, path or URL entry is an error saying so).
"""

from __future__ import annotations

import json
import tomllib

from maxlocal.builders.plan import PlanError

LOCKS = ("poetry.lock", "Pipfile.lock")
"""The locks read, in the order detection tries them (both need no tool of their own)."""
_NOT_INDEX = ("git", "path", "file", "url", "directory")
_FIX = "Fix: pin it from the package index, or deploy a requirements.txt instead"


def pins(name: str, text: str) -> list[str]:
    """The requirement lines of lock ``name`` (``flask==3.0.3``, ``colorama==0.4.6 ;
    sys_platform == "win32"``), sorted; PlanError when it is not a lock this reads."""
    return sorted(_pipfile(text) if name == "Pipfile.lock" else _poetry(text))


def _pin(name: str, version: str, extras: object = None, markers: object = None) -> str:
    shown = f"[{','.join(extras)}]" if isinstance(extras, list) and extras else ""
    line = f"{name}{shown}{version}"
    return f"{line} ; {markers}" if isinstance(markers, str) and markers else line


def _pipfile(text: str) -> list[str]:
    """The ``default`` section (the app's packages; ``develop`` is for its developers)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PlanError(f"Pipfile.lock is not valid JSON: {exc}") from exc
    default = data.get("default") if isinstance(data, dict) else None
    if not isinstance(default, dict):
        raise PlanError('Pipfile.lock has no "default" section; make it again with `pipenv lock`')
    found = []
    for name, entry in default.items():
        version = entry.get("version") if isinstance(entry, dict) else None
        if not isinstance(version, str):
            kind = next((k for k in _NOT_INDEX if isinstance(entry, dict) and k in entry), "?")
            raise PlanError(f"Pipfile.lock: {name} comes from a {kind}, not the index. {_FIX}")
        found.append(_pin(name, version, entry.get("extras"), entry.get("markers")))
    return found


def _poetry(text: str) -> list[str]:
    """Every ``[[package]]`` of the ``main`` group (by ``groups``, or ``category`` in older
    locks; a lock that records neither, as poetry 1.5 to 1.8 write, gets all of them)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"poetry.lock is not valid TOML: {exc}") from exc
    found = []
    for package in data.get("package", []):
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            raise PlanError("poetry.lock has a [[package]] without a name and version")
        groups, category = package.get("groups"), package.get("category")
        if (isinstance(groups, list) and "main" not in groups) or category not in (None, "main"):
            continue
        kind = (package.get("source") or {}).get("type")
        if kind in _NOT_INDEX:
            raise PlanError(f"poetry.lock: {name} comes from a {kind}, not the index. {_FIX}")
        markers = package.get("markers")
        if isinstance(markers, dict):  # poetry 2: per group
            markers = markers.get("main")
        found.append(_pin(name, f"=={version}", markers=markers))
    return found
