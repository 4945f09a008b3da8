"""The shared dependency environments (``<cache>/envs``): who uses them, and pruning the
least recently used ones beyond a bound.

Every time a release links an environment (``.venv``, ``node_modules``), the link is
recorded in ``envs/.uses/<env>/`` and that directory's time says when it was last used.
Records live beside the environments, not in them (a sandbox may make those read-only),
and in the cache rather than the platform's database: several platforms may share one
cache (``maxlocal serve --cache``), and each one's releases count.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from maxlocal.builders.plan import COMPLETE

USES = ".uses"
GRACE_S = 60.0
"""An environment used this recently is kept whatever the bound: a build may have just
reused it and not yet linked it into its release."""
LINKS = (".venv", "node_modules")


def record_use(env: Path, link: Path) -> None:
    """Note that ``link`` (a release's ``.venv`` or ``node_modules``) points into ``env``,
    and that ``env`` was used now."""
    book = env.parent / USES / env.name
    book.mkdir(parents=True, exist_ok=True)
    (book / hashlib.sha256(str(link).encode()).hexdigest()[:16]).write_text(str(link))
    os.utime(book)


def last_use(env: Path) -> float:
    """When a release last linked ``env`` (its completion, for one built before records)."""
    for stamp in (env.parent / USES / env.name, env / COMPLETE, env):
        with contextlib.suppress(OSError):
            return stamp.stat().st_mtime
    return 0.0


def prune(envs: Path, releases: Path, keep: int, now: float | None = None) -> list[str]:
    """Remove the least recently used environments until at most ``keep`` are left
    (``Layout.keep_envs``: ``maxlocal serve --keep-envs``), never
    one a release links to (as recorded, or found among ``releases``' links), one used in
    the last GRACE_S seconds, or one being built. Returns the names removed.

    Their lock files stay (empty files): one removed while a build waits on it would let
    a later build lock a new file and build the same environment beside the waiting one."""
    now = time.time() if now is None else now
    try:
        present = [p for p in envs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except FileNotFoundError:
        return []
    excess = len(present) - keep
    if excess <= 0:
        return []
    linked = _linked(envs, releases)
    removed: list[str] = []
    for env in sorted(present, key=last_use):
        if len(removed) >= excess:
            break
        if env.name in linked or now - last_use(env) < GRACE_S:
            continue
        with _unless_busy(env) as free:
            if free and env.name not in _linked(envs, releases, only=env):
                shutil.rmtree(env, ignore_errors=True)
                shutil.rmtree(envs / USES / env.name, ignore_errors=True)
                removed.append(env.name)
    return removed


def _linked(envs: Path, releases: Path, only: Path | None = None) -> set[str]:
    """The names of the environments some existing link points into."""
    links: list[Path] = []
    books = [envs / USES / only.name] if only else list((envs / USES).glob("*"))
    for book in books:
        for record in book.glob("*"):
            with contextlib.suppress(OSError, UnicodeDecodeError):
                links.append(Path(record.read_text()))
    for name in LINKS:
        links.extend(releases.glob(f"*/*/*/{name}"))
    real = envs.resolve()
    found = set()
    for link in links:
        with contextlib.suppress(OSError):
            target = Path(os.readlink(link))  # the env itself, or its node_modules
            for env in (target, target.parent):
                if env.parent == real:
                    found.add(env.name)
    return found


@contextlib.contextmanager
def _unless_busy(env: Path) -> Iterator[bool]:
    """Hold ``env``'s build lock (run.py takes it to build or reuse the environment) if
    nobody else does; yields whether it is held."""
    with open(env.with_name(env.name + ".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
