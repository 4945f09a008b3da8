"""The base image every release image is built FROM: Debian packages only, no registry.

Made once from a recipe (``RECIPE``: suite, variant, packages): ``debootstrap`` writes a root
file system, which is packed into a tarball kept in a cache directory under the recipe's hash,
and ``docker import``\\ ed as ``rig-base:<hash>``. A new engine (a CI run's dockerd lives in a
temporary directory) imports the cached tarball in seconds; only a changed recipe runs
debootstrap again (about two minutes). The release images carry the platform's own parts (the
launcher), so changing those does not rebuild the base.

The packages: ``python3`` (Python releases' environments are virtual environments made from
the machine's Debian interpreter, /usr/bin/python3.11 in both), ``ca-certificates`` (apps that
call out over TLS). Node is not in it: Debian's nodejs with its libraries doubles the image.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from maxlocal.runtime.swarm.engine import MANAGED, EngineError

if TYPE_CHECKING:
    import docker

REPOSITORY = "rig-base"
MIRROR = os.environ.get("RIG_DEBIAN_MIRROR", "http://deb.debian.org/debian")
RECIPE: dict[str, object] = {
    "suite": "bookworm",
    "variant": "minbase",
    "packages": ["python3", "ca-certificates"],
}
DEBOOTSTRAP_TIMEOUT_S = 900
PYTHON = "3.11"
"""The minor version of the recipe's python3 (bookworm's), at ``/usr/bin/python3.11``: a
release environment made from another build of it (a pyenv 3.11.7) runs on it as it is."""


def recipe_hash() -> str:
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:16]


def tag() -> str:
    return f"{REPOSITORY}:{recipe_hash()}"


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/rig/swarm`` (``~/.cache/rig/swarm``): outlives a CI run's clone."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rig" / "swarm"


def ensure(client: docker.DockerClient, cache: Path | None = None) -> str:
    """The base image's tag, imported into the engine if it is not there yet, made first if
    the cache has no tarball of this recipe. Safe to call from several processes at once (a
    lock in the cache: one builds, the others wait and import)."""
    import docker.errors

    name = tag()
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(name)
        return name
    cache = cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{REPOSITORY}-{recipe_hash()}.tar"
    with _locked(cache / ".lock"):
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.get(name)
            return name
        if not tarball.is_file():
            _make_tarball(tarball)
        repository, version = name.split(":")
        with tarball.open("rb") as data:
            client.api.import_image_from_data(
                data,
                repository=repository,
                tag=version,
                changes=[f"LABEL {MANAGED}=base", 'CMD ["/bin/sh"]'],
            )
    return name


def _make_tarball(tarball: Path) -> None:
    """debootstrap into a temporary directory, then pack it (numeric owners kept)."""
    if shutil.which("debootstrap") is None:
        raise EngineError("debootstrap is not installed (scripts/install-system-deps)")
    with tempfile.TemporaryDirectory(prefix="rig-base-", dir=tarball.parent) as work:
        root = Path(work) / "root"
        packages = ",".join(str(p) for p in RECIPE["packages"])  # type: ignore[attr-defined]
        argv = [
            "debootstrap",
            f"--variant={RECIPE['variant']}",
            f"--include={packages}",
            str(RECIPE["suite"]),
            str(root),
            MIRROR,
        ]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise EngineError(f"debootstrap failed ({done.returncode}): {' | '.join(tail)}")
        for waste in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (root / waste).glob("*.deb" if "archives" in waste else "*_*"):
                entry.unlink()
        partial = tarball.with_suffix(".partial")
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], check=True
        )
        partial.rename(tarball)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main() -> None:
    """``python -m maxlocal.runtime.swarm.base``: make and import the base image now (.ci/run
    does, before the tests: a first build takes minutes, longer than one test may)."""
    import sys
    import time

    from maxlocal.runtime.swarm.engine import connect

    started = time.monotonic()
    try:
        name = ensure(connect())
    except EngineError as exc:
        sys.exit(f"base image: {exc}")
    print(f"base image {name} ready in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
