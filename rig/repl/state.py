"""Where the shell keeps what outlives it: the selection and the history."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """``$RIG_STATE_DIR``, else ``$XDG_STATE_HOME/rig``, else ``~/.local/state/rig``."""
    explicit = os.environ.get("RIG_STATE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "rig"


def history_file() -> Path:
    return state_dir() / "history"


def selection_file() -> Path:
    return state_dir() / "selection.json"
