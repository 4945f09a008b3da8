"""Running a program as user ``nobody`` with this checkout importable, wherever it was cloned.

A checkout under a directory only root may enter (``mktemp -d`` makes one 0700) is out of
nobody's reach. Then the program runs in a mount namespace of its own, where the checkout
is bind-mounted at a directory nobody can enter, and its paths are given as seen there
(``seen``); the machine's own mounts are untouched. A checkout nobody can reach is used as
it is.
"""

from __future__ import annotations

import os
import stat
import tempfile
from functools import cache
from pathlib import Path

NOBODY = 65534
SETPRIV = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
CHECKOUT = Path(__file__).resolve().parents[2]
BIND = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'


def reachable(path: Path) -> bool:
    """Whether every directory from ``/`` to ``path`` may be entered by others."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


@cache
def _view() -> Path | None:
    """Where nobody sees the checkout: None when it can see it where it is."""
    if reachable(CHECKOUT):
        return None
    view = Path(tempfile.mkdtemp(prefix="rig-nobody-view-"))
    os.chmod(view, 0o755)
    return view


def seen(path: Path) -> str:
    """``path`` (this checkout's or not) as a program run by ``as_nobody`` finds it."""
    view = _view()
    if view is None or not path.resolve().is_relative_to(CHECKOUT):
        return str(path)
    return str(view / path.resolve().relative_to(CHECKOUT))


def as_nobody(argv: list[str]) -> list[str]:
    """The argv that runs ``argv`` as nobody, where ``seen`` paths are valid."""
    view = _view()
    if view is None:
        return [*SETPRIV, *argv]
    private = ["unshare", "--mount", "--propagation", "private", "sh", "-c", BIND, "sh"]
    return [*private, str(CHECKOUT), str(view), *SETPRIV, *argv]
