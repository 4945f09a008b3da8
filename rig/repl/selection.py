"""The shell's selection (network and app), remembered per login context across restarts."""

from __future__ import annotations

import argparse
import functools
import json
from dataclasses import dataclass
from pathlib import Path

from rig.config import write_private
from rig.repl.state import selection_file

SET_HERE = "set with `use` in this session"
NO_CONTEXT = "-"


@dataclass(frozen=True)
class Selection:
    network: str | None = None
    app: str | None = None
    source: str = ""

    def resource_for(self, argv: list[str], words: frozenset[str] | None = None) -> str | None:
        """``app`` (or ``network``) when ``argv`` is one of ``words`` (default: the commands'
        :func:`rig.cli.selection_words`) naming no resource (nothing, or options only next) and
        an app (a network) is selected: the word the command then means, as ``status`` alone
        means ``status app`` of the selection."""
        if not names_no_resource(argv, words):
            return None
        return "app" if self.app else "network" if self.network else None

    def label(self) -> str:
        """``net/app``, ``net``, or the empty string."""
        if self.network and self.app:
            return f"{self.network}/{self.app}"
        return self.network or ""


def names_no_resource(argv: list[str], words: frozenset[str] | None = None) -> bool:
    """True for ``status``, ``logs -f`` and the like: one of ``words`` (default: the commands'
    :func:`rig.cli.selection_words`) with no resource word after it (nothing, or options)."""
    if not argv or argv[0] not in (declared_selection_words() if words is None else words):
        return False
    return len(argv) == 1 or argv[1].startswith("-")


@functools.cache
def declared_selection_words() -> frozenset[str]:
    from rig.cli import build_parser, selection_words

    root = build_parser()
    return selection_words(
        next(dict(a.choices) for a in root._actions if isinstance(a, argparse._SubParsersAction))
    )


class SelectionStore:
    """Reads and writes ``selection.json``: ``{"contexts": {NAME: {"network", "app"}}}``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or selection_file()

    def load(self, context: str | None) -> Selection:
        entry = self._read().get(context or NO_CONTEXT) or {}
        network = entry.get("network") if isinstance(entry.get("network"), str) else None
        app = entry.get("app") if network and isinstance(entry.get("app"), str) else None
        source = f"restored from {self.path}" if network else ""
        return Selection(network, app, source)

    def save(self, context: str | None, selection: Selection) -> None:
        data = self._read()
        key = context or NO_CONTEXT
        if selection.network:
            data[key] = {"network": selection.network, "app": selection.app}
        else:
            data.pop(key, None)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(self.path, json.dumps({"contexts": data}, indent=2) + "\n")

    def _read(self) -> dict[str, dict[str, str | None]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        contexts = data.get("contexts") if isinstance(data, dict) else None
        return {k: v for k, v in (contexts or {}).items() if isinstance(v, dict)}
