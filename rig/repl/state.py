"""Where the shell keeps what outlives it: the selection and the history."""

from __future__ import annotations

from pathlib import Path

from rig.config import state_dir


def history_file() -> Path:
    return state_dir() / "history"


def selection_file() -> Path:
    return state_dir() / "selection.json"
