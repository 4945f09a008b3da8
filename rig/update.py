"""The optional update check: is a newer rig published?

Off the one-shot hot path: a command never waits for the network. After a one-shot command
on a terminal, rig reads a small cache file; when a previous run's refresh found a newer
version, it says so once on stderr; when the last refresh is a day old, it starts a detached
``python -m rig.update`` that asks the URL and writes the answer to the cache for the next
run. Off with ``RIG_NO_UPDATE_CHECK=1`` and under ``CI=true``; never raises.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

OFF_ENV = "RIG_NO_UPDATE_CHECK"
URL_ENV = "RIG_UPDATE_URL"
# PyPI's JSON API for the distribution (pyproject.toml's name); a plain {"version": "..."} works too
DEFAULT_URL = "https://pypi.org/pypi/maxrig/json"
INTERVAL_S = 24 * 3600  # at most one refresh a day
FETCH_TIMEOUT_S = 10.0
UPGRADE = "uv tool upgrade maxrig (or: pip install -U maxrig)"
_VERSION = re.compile(r"[0-9][0-9A-Za-z.+-]{0,39}")


def enabled(env: Mapping[str, str]) -> bool:
    """Off when asked (``RIG_NO_UPDATE_CHECK``) and in CI, where nobody reads the notice."""
    if env.get(OFF_ENV, "") not in ("", "0"):
        return False
    return env.get("CI", "").lower() not in ("true", "1")


def cache_file(env: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/rig/update-check.json`` (default ``~/.cache``): per user, not per
    ``RIG_CONFIG_DIR`` (a newer rig is news for each of its configurations alike)."""
    from rig.config import xdg_dir

    return xdg_dir("XDG_CACHE_HOME", ".cache", env) / "update-check.json"


def after_command(env: Mapping[str, str], err: IO[str]) -> None:
    """The notice a previous refresh left (once), and a refresh when the last is a day old."""
    try:
        if not enabled(env):
            return
        path = cache_file(env)
        state = _read(path)
        latest = state.get("latest")
        if isinstance(latest, str) and state.get("shown") != latest and _newer(latest):
            from rig import __version__

            err.write(f"rig: {latest} is available (this is {__version__}): {UPGRADE}\n")
            state["shown"] = latest
            _write(path, state)
        checked = state.get("checked_at")
        if not isinstance(checked, int | float) or time.time() - checked >= INTERVAL_S:
            state["checked_at"] = time.time()  # claimed first: concurrent runs start one refresh
            _write(path, state)
            _start_refresh(env.get(URL_ENV) or DEFAULT_URL, path)
    except Exception:  # an update check never fails a command
        return


def _newer(latest: str) -> bool:
    from rig import __version__

    mine, theirs = _numbers(__version__), _numbers(latest)
    return bool(mine and theirs) and theirs > mine


def _numbers(version: str) -> tuple[int, ...]:
    """The leading dotted numbers (``1.2.3rc1`` -> (1, 2, 3)); () for anything else."""
    found = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(p) for p in found.group().split(".")) if found else ()


def _read(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(state) + "\n")
    temporary.replace(path)


def _start_refresh(url: str, path: Path) -> None:
    """A detached process of its own: rig exits at once, the answer lands in the cache."""
    import subprocess

    subprocess.Popen(
        [sys.executable, "-m", "rig.update", url, str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def refresh(url: str, path: Path) -> None:
    """Ask ``url`` for the newest version (PyPI's ``info.version`` or a plain ``version``) and
    record it; anything unexpected leaves the cache as it was."""
    import urllib.request

    if not url.startswith(("https://", "http://")):
        return
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
        answer = json.loads(response.read(1 << 20))
    info = answer.get("info") if isinstance(answer.get("info"), dict) else answer
    latest = info.get("version")
    if isinstance(latest, str) and _VERSION.fullmatch(latest):
        state = _read(path)
        state.update(latest=latest, checked_at=time.time())
        _write(path, state)


if __name__ == "__main__":
    try:
        refresh(sys.argv[1], Path(sys.argv[2]))
    except Exception:
        sys.exit(1)
