"""Resource names for shell completion, in a small local file that completion reads instead of
the network. Commands that list, create or delete networks and apps keep it fresh."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path

from rig.config import write_private

NETWORK, APP = "network", "app"


def cache_file() -> Path:
    """``$RIG_CACHE_DIR``, else ``$RIG_CONFIG_DIR/cache``, else ``$XDG_CACHE_HOME/rig`` (or
    ``~/.cache/rig``); the file ``names.json`` in it."""
    from rig.config import cache_dir

    return cache_dir() / "names.json"


def read() -> dict[str, list[str]]:
    """``{"network": [...], "app": ["net/app", ...]}``; empty when missing or damaged."""
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: [str(n) for n in v] for k, v in data.items() if isinstance(v, list)}


def names(kind: str) -> list[str]:
    if kind == APP:
        return sorted({entry.rpartition("/")[2] for entry in read().get(APP, [])})
    if kind == "context":
        from rig.config import Contexts

        with contextlib.suppress(Exception):
            return sorted(Contexts.load().contexts)
        return []
    return sorted(set(read().get(kind, [])))


def update(
    kind: str,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    replace: str | None = None,
) -> None:
    """Add and remove entries; ``replace`` drops every entry starting with it first
    (``""`` for all). Never fails a command: the cache is only a convenience."""
    data = read()
    entries = set(data.get(kind, []))
    if replace is not None:
        entries = {e for e in entries if not e.startswith(replace)}
    entries = (entries | set(add)) - set(remove)
    data[kind] = sorted(entries)
    path = cache_file()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(path, json.dumps(data) + "\n")
