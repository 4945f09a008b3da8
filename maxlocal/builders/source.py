"""The files a plan is made from: a release directory, or what ``rig deploy --dry-run`` sent.

Detection reads only top-level files (and looks for a few paths), so the client can send
exactly those for a plan made before anything is uploaded.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Protocol

MAX_READ_BYTES = 4 * 1024 * 1024  # a lock of a few hundred packages, with its hashes


class Source(Protocol):
    complete: bool
    """Whether ``read`` gives every text file that exists (a dry run's client sends only the
    small ones)."""

    def exists(self, path: str) -> bool: ...
    def read(self, path: str) -> str | None:
        """The text of a file, or None when it is missing, not text or too large."""
        ...

    def top_level(self) -> list[str]:
        """The names of the files at the top of the tree."""
        ...


class DiskSource:
    complete = True

    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self, path: str) -> bool:
        return (self.root / path).is_file()

    def read(self, path: str) -> str | None:
        file = self.root / path
        try:
            if not file.is_file() or file.stat().st_size > MAX_READ_BYTES:
                return None
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def top_level(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_file())


class MemorySource:
    """``paths``: every file of the tree; ``contents``: the text of those sent with it."""

    complete = False

    def __init__(self, paths: Collection[str], contents: Mapping[str, str]) -> None:
        self.paths = set(paths) | set(contents)
        self.contents = dict(contents)

    def exists(self, path: str) -> bool:
        return path in self.paths

    def read(self, path: str) -> str | None:
        return self.contents.get(path)

    def top_level(self) -> list[str]:
        return sorted(p for p in self.paths if "/" not in p)
