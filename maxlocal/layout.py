"""Where the runtime keeps things under the data directory.

``artifacts/<network>/<app>/<n>.tar.gz``  the uploaded archive of release n
``releases/<network>/<app>/<n>/``         release n unpacked and built (config and
                                          rollback releases run their artifact's)
``logs/``                                 the log store: ``<network>/<app>`` and
                                          ``<network>/<app>/build``
``homes/apps/<network>/<app>/``           the HOME of the app's processes, builds and
                                          sessions (``homes/networks/<network>/`` for a
                                          network's sessions)
``networks/<network>/``                   a network's working directory (its sessions' cwd)
``cache/``                                what builds share: dependency environments keyed
                                          by their lock file (``cache/envs``, the least
                                          recently used pruned beyond ``keep_envs``) and
                                          the package managers' download caches
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

from maxlocal.runtime.cgroups import disk_used

DEFAULT_KEEP_ENVS = 50  # a few apps' history of dependency changes (a Flask venv: ~15 MB)


@dataclass(frozen=True)
class Layout:
    data_dir: Path
    cache_dir: Path | None = None
    """Where builds keep what they share, when not ``<data>/cache`` (``serve --cache``:
    several platforms of one machine, or of a test run, download each package once)."""
    keep_envs: int = DEFAULT_KEEP_ENVS
    """How many dependency environments the cache keeps (``serve --keep-envs``); more only
    while releases link them (builders/envs.py)."""

    @property
    def artifacts(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def releases(self) -> Path:
        return self.data_dir / "releases"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def cache(self) -> Path:
        return self.cache_dir or self.data_dir / "cache"

    @property
    def homes(self) -> Path:
        return self.data_dir / "homes"

    def home(self, network: str, app: str | None = None) -> Path:
        """The HOME of an app's processes (or of a network's sessions), made on first use."""
        home = self.homes / "apps" / network / app if app else self.homes / "networks" / network
        home.mkdir(parents=True, exist_ok=True)
        return home

    def network_dir(self, network: str) -> Path:
        """The working directory of a network's sessions, made on first use."""
        folder = self.data_dir / "networks" / network
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def artifact(self, network: str, app: str, number: int) -> Path:
        return self.artifacts / network / app / f"{number}.tar.gz"

    def upload(self, network: str, app: str) -> Path:
        """A fresh name for an upload in progress, renamed to its artifact once accepted."""
        folder = self.artifacts / network / app
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"upload-{uuid.uuid4().hex}.tar.gz"

    def release_dir(self, network: str, app: str, number: int) -> Path:
        return self.releases / network / app / str(number)

    def disk_usage(self, network: str, app: str) -> int:
        """Bytes on disk under the app's artifacts, releases and home (symlinks not followed:
        a shared dependency environment in the cache is nobody's)."""
        return sum(
            disk_used(root / network / app)
            for root in (self.artifacts, self.releases, self.homes / "apps")
        )

    def remove_release(self, network: str, app: str, number: int) -> None:
        self.artifact(network, app, number).unlink(missing_ok=True)
        shutil.rmtree(self.release_dir(network, app, number), ignore_errors=True)

    def remove_app(self, network: str, app: str) -> None:
        for root in (self.artifacts, self.releases, self.homes / "apps"):
            shutil.rmtree(root / network / app, ignore_errors=True)

    def remove_network(self, network: str) -> None:
        """Everything kept under the network's name: the next owner of the name starts empty."""
        for root in (self.data_dir / "networks", self.homes / "networks", self.homes / "apps"):
            shutil.rmtree(root / network, ignore_errors=True)

    def remove_leftovers(self) -> None:
        """Uploads cut short and unpacking directories of a platform that stopped mid-way."""
        for partial in self.artifacts.glob("*/*/*.partial"):
            partial.unlink(missing_ok=True)
        for upload in self.artifacts.glob("*/*/upload-*"):
            upload.unlink(missing_ok=True)
        for staging in self.releases.glob("*/*/.*"):
            shutil.rmtree(staging, ignore_errors=True)


def tighten(data_dir: Path) -> None:
    """Make the data directory and what is directly in it the platform's alone (0700 and
    0600: no group or other bits), whatever an earlier run, a copy or a hand-made directory
    left: it holds the database, the secrets key, the logs and every tenant's files."""
    os.chmod(data_dir, 0o700)
    for entry in os.scandir(data_dir):
        with contextlib.suppress(FileNotFoundError):
            mode = entry.stat(follow_symlinks=False).st_mode
            if (stat.S_ISDIR(mode) or stat.S_ISREG(mode)) and mode & 0o077:
                os.chmod(entry.path, stat.S_IMODE(mode) & ~0o077)


def log_key(network: str, app: str) -> str:
    return f"{network}/{app}"


def build_log_key(network: str, app: str) -> str:
    return f"{network}/{app}/build"


def network_log_key(network: str) -> str:
    """Every line of every app of the network, with a sequence of its own."""
    return network
