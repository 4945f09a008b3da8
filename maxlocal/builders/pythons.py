"""The Python interpreters of the machine, and which one a release asks for.

Found in the system's bin directories and beside the platform's own base interpreter
(never through the platform's ``PATH``, which depends on the shell that started it), so
the same release gets the same interpreter however the platform was started.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from maxlocal.runtime.proc import SYSTEM_PATH
from maxlocal.runtime.procfile import ProcfileError

_NAME = re.compile(r"^python3(\.\d+)?$")
_CLAUSE = re.compile(r"^\s*(~=|==|!=|<=|>=|<|>|===)?\s*v?([0-9][0-9.*]*)\s*$")
Version = tuple[int, ...]


class NoInterpreter(ProcfileError):
    """The machine has no Python the release asks for (the message lists those it has)."""


@dataclass(frozen=True)
class Interpreter:
    version: tuple[int, int, int]
    path: Path

    @property
    def label(self) -> str:
        return ".".join(map(str, self.version))


def _search_dirs() -> list[Path]:
    base = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable))).parent
    return [Path(d) for d in SYSTEM_PATH] + [base]


def _version_of(path: Path) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(
            [str(path), "-I", "-c", "import sys; print(*sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=10,
            env={},
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return (int(out[0]), int(out[1]), int(out[2])) if len(out) == 3 else None


@functools.cache
def interpreters() -> tuple[Interpreter, ...]:
    """Every distinct Python 3 of the machine, the newest first."""
    found: dict[str, Interpreter] = {}
    for directory in _search_dirs():
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            path = directory / name
            real = os.path.realpath(path)
            if not _NAME.match(name) or real in found or not os.access(path, os.X_OK):
                continue
            version = _version_of(path)
            if version is not None:
                found[real] = Interpreter(version, path)
    return tuple(sorted(found.values(), key=lambda i: i.version, reverse=True))


def available() -> str:
    """For error messages: what the machine has."""
    return ", ".join(f"{i.label} ({i.path})" for i in interpreters()) or "none"


def parse_version(text: str) -> Version | None:
    """``3.11``, ``3.11.4``, ``python3.11``, ``cpython-3.11`` -> (3, 11[, 4])."""
    match = re.search(r"(\d+(?:\.\d+){0,2})", text)
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def _cmp(version: Version, other: Version) -> int:
    width = max(len(version), len(other))
    a, b = version + (0,) * (width - len(version)), other + (0,) * (width - len(other))
    return (a > b) - (a < b)


def _clause_ok(version: Version, op: str, text: str) -> bool:
    if text.endswith(".*"):
        prefix = tuple(int(p) for p in text[:-2].split("."))
        same = version[: len(prefix)] == prefix
        return same if op in ("==", "===") else not same
    wanted = tuple(int(p) for p in text.split("."))
    c = _cmp(version, wanted)
    if op == "~=":
        return c >= 0 and version[: len(wanted) - 1] == wanted[:-1]
    return {"==": c == 0, "===": c == 0, "!=": c != 0, "<=": c <= 0, ">=": c >= 0,
            "<": c < 0, ">": c > 0}[op]  # fmt: skip


def satisfies(version: Version, specifier: str) -> bool:
    """Whether ``version`` meets a PEP 440 ``requires-python`` such as ``>=3.10,<3.13``."""
    for clause in filter(None, (c.strip() for c in specifier.split(","))):
        match = _CLAUSE.match(clause)
        if match is None:
            raise NoInterpreter(f"requires-python: cannot read {clause!r}")
        if not _clause_ok(version, match.group(1) or "==", match.group(2)):
            return False
    return True


def choose(wanted: str | None, where: str) -> Interpreter:
    """The newest interpreter matching ``wanted`` (a version like ``3.11`` or a specifier
    like ``>=3.10``; None: any), or a NoInterpreter naming what the machine has."""
    found = interpreters()
    if not found:
        raise NoInterpreter("no Python 3 interpreter found on this machine")
    if not wanted:
        return found[0]
    exact = parse_version(wanted) if not re.match(r"^\s*[<>=!~]", wanted) else None
    for interpreter in found:
        ok = (
            interpreter.version[: len(exact)] == exact
            if exact is not None
            else satisfies(interpreter.version, wanted)
        )
        if ok:
            return interpreter
    raise NoInterpreter(
        f"Python {wanted.strip()} ({where}) is not on this machine; available: {available()}"
    )
