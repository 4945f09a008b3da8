"""The shared dependency environments are pruned by last use beyond a bound, and never one
a kept release links to, one just used, or one being built."""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from pathlib import Path

import pytest

from maxlocal.builders import envs
from maxlocal.builders.plan import COMPLETE
from tests.builds.conftest import BUILD_HEALTH_TIMEOUT, tenant_of
from tests.support.platform import PlatformFactory

HOUR = 3600.0


def env_used(root: Path, name: str, link: Path, age: float, *, node: bool = False) -> Path:
    """An environment ``name`` in ``root/envs`` that ``link`` pointed to ``age`` seconds ago
    (linked to its node_modules when ``node``)."""
    env = root / "envs" / name
    (env / "node_modules" if node else env).mkdir(parents=True)
    (env / COMPLETE).touch()
    envs.record_use(env, link)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(env / "node_modules" if node else env)
    then = time.time() - age
    os.utime(root / "envs" / envs.USES / name, (then, then))
    return env


def prune(root: Path, keep: int) -> list[str]:
    return envs.prune(root / "envs", root / "releases", keep)


def names(root: Path) -> list[str]:
    """The environments left (their lock files stay: see envs.prune)."""
    return sorted(p.name for p in (root / "envs").iterdir() if p.is_dir() and p.name[0] != ".")


def test_the_least_recently_used_go_first_down_to_the_bound(tmp_path: Path) -> None:
    for n, age in enumerate([4 * HOUR, 1 * HOUR, 3 * HOUR, 2 * HOUR]):
        link = tmp_path / "gone" / str(n) / ".venv"
        env_used(tmp_path, f"python-{n}", link, age)
        link.unlink()  # its release was removed
    assert prune(tmp_path, keep=2) == ["python-0", "python-2"]
    assert names(tmp_path) == ["python-1", "python-3"]
    assert sorted(p.name for p in (tmp_path / "envs" / envs.USES).iterdir()) == names(tmp_path)
    assert prune(tmp_path, keep=2) == []


def test_an_env_a_kept_release_links_to_is_never_pruned(tmp_path: Path) -> None:
    releases = tmp_path / "releases" / "net" / "app"
    env_used(tmp_path, "python-old", releases / "1" / ".venv", 9 * HOUR)
    env_used(tmp_path, "node-old", releases / "1" / "node_modules", 8 * HOUR, node=True)
    other = tmp_path / "other-platform" / "releases" / "net" / "app" / "4" / ".venv"
    env_used(tmp_path, "python-shared", other, 7 * HOUR)  # a platform sharing the cache
    for n in range(2):
        link = tmp_path / "gone" / str(n) / ".venv"
        env_used(tmp_path, f"python-unused{n}", link, HOUR)
        link.unlink()
    assert sorted(prune(tmp_path, keep=1)) == ["python-unused0", "python-unused1"]
    assert names(tmp_path) == ["node-old", "python-old", "python-shared"]

    (releases / "1" / ".venv").unlink()  # the release is pruned: its env may go now
    assert prune(tmp_path, keep=2) == ["python-old"]


def test_an_env_built_before_use_records_is_kept_while_a_release_links_it(tmp_path: Path) -> None:
    env = tmp_path / "envs" / "node-legacy"
    (env / "node_modules").mkdir(parents=True)
    (env / COMPLETE).touch()
    os.utime(env / COMPLETE, (time.time() - HOUR, time.time() - HOUR))
    link = tmp_path / "releases" / "net" / "app" / "3" / "node_modules"
    link.parent.mkdir(parents=True)
    link.symlink_to(env / "node_modules")
    assert prune(tmp_path, keep=0) == []
    link.unlink()
    assert prune(tmp_path, keep=0) == ["node-legacy"]


def test_an_env_just_used_or_being_built_stays(tmp_path: Path) -> None:
    fresh = tmp_path / "gone" / "1" / ".venv"
    env_used(tmp_path, "python-fresh", fresh, 5.0)  # a build reused it a moment ago
    fresh.unlink()
    busy = tmp_path / "gone" / "2" / ".venv"
    env = env_used(tmp_path, "python-busy", busy, HOUR)
    busy.unlink()
    with open(env.with_name(env.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as builders/run.py holds it while building
        assert prune(tmp_path, keep=0) == []
    assert prune(tmp_path, keep=0) == ["python-busy"]
    assert names(tmp_path) == ["python-fresh"]


@pytest.mark.network
def test_the_platform_prunes_after_a_build_beyond_keep_envs(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """``maxlocal serve --keep-envs 1``: an app's env, once the app is deleted and the env
    unused for an hour, goes when another app's build is done; the one in use stays."""
    cache = tmp_path_factory.mktemp("prune-cache")
    factory = PlatformFactory(tmp_path_factory.mktemp("prune"))
    try:
        # one trust domain: apps share environments (sandboxed, each app has its own area)
        platform = factory(
            health_timeout=BUILD_HEALTH_TIMEOUT, cache=cache, keep_envs=1, isolation="none"
        )
        tenant = tenant_of(platform, tmp_path / f"rig-{uuid.uuid4().hex[:8]}")
        procfile = "web: python3 -m http.server --bind 127.0.0.1 $PORT\n"
        network, first = tenant.new_app("first")
        tenant.deploy_ok(
            network, first, {"requirements.txt": "six==1.16.0\n", "Procfile": procfile}
        )
        (old,) = [p.name for p in (cache / "envs").glob("python-*") if p.is_dir()]
        assert tenant.api.http.delete(f"/networks/{network}/apps/{first}").status_code < 300
        then = time.time() - HOUR
        os.utime(cache / "envs" / envs.USES / old, (then, then))

        tenant.api.http.post(f"/networks/{network}/apps", json={"name": "second"})
        deps = {"requirements.txt": "iniconfig==2.0.0\n", "Procfile": procfile}
        tenant.deploy_ok(network, "second", deps)
        (kept,) = [p.name for p in (cache / "envs").glob("python-*") if p.is_dir()]
        assert kept != old
        run = tenant.command(network, "second", "python -c 'import iniconfig; print(1)'")
        assert (run.code, run.out) == (0, "1\n"), str(run)
        tenant.api.http.close()
    finally:
        factory.stop_all()
