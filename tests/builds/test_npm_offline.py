"""``npm ci`` takes a locked package already in the download cache from the cache: plain
``npm ci`` revalidated every cached packument and tarball of the lock with the registry once
it was five minutes old (node.NPM_CI)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from maxlocal.builders.plan import make_plan
from maxlocal.builders.run import execute
from maxlocal.builders.source import DiskSource
from maxlocal.builders.toolbox import Toolbox
from maxlocal.runtime.proc import child_env
from tests.builds.conftest import build, package_json

NPMRC = "loglevel=http\nprefer-online=true\n"
"""npm logs each request and whether the registry was asked; ``prefer-online`` makes every
cached entry as stale as the whole cache is five minutes after a download (the registry's
max-age), when plain ``npm ci`` revalidated each of them."""
ASKED = ("(cache updated)", "(cache revalidated)", "(cache miss)")


def release(root: Path, description: str, lock: str) -> Path:
    root.mkdir()
    package = package_json(description=description, dependencies={"is-number": "7.0.0"})
    (root / "package.json").write_text(package)
    (root / "package-lock.json").write_text(lock)
    (root / ".npmrc").write_text(NPMRC)
    (root / "index.js").write_text("console.log(require('is-number/package.json').version)\n")
    return root


@pytest.mark.network
def test_a_lock_whose_packages_are_cached_installs_without_the_registry(
    tmp_path: Path, build_cache: Path
) -> None:
    tools = Toolbox(build_cache)
    maker = tmp_path / "maker"
    maker.mkdir()
    (maker / "package.json").write_text(package_json(dependencies={"is-number": "7.0.0"}))
    npm = tools.tool("npm")
    assert npm is not None
    env = {**child_env({}, home=tmp_path), **tools.download_env()}
    subprocess.run(
        [str(npm), "install", "--package-lock-only"],
        cwd=maker, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    lock = (maker / "package-lock.json").read_text()
    assert json.loads(lock)["packages"]["node_modules/is-number"]["integrity"]

    build(release(tmp_path / "first", "online", lock), tools)  # fills the download cache
    second = release(tmp_path / "second", "cached", lock)  # a new key: npm ci runs again
    lines: list[str] = []
    notes: list[str] = []
    base = lambda: child_env({}, second, home=tmp_path / "home")  # noqa: E731
    plan = make_plan(DiskSource(second), tools)
    execute(plan, second, base, lambda stream, line: lines.append(line), notes.append)
    assert "step 'npm ci' done" in " ".join(notes), notes
    fetched = [line for line in lines if line.startswith("npm http ")]
    assert fetched, lines  # npm said what it fetched
    assert not [line for line in fetched if line.endswith(ASKED)], fetched
    run = subprocess.run(
        ["node", "index.js"], cwd=second, env=child_env({}, second), capture_output=True
    )
    assert run.stdout == b"7.0.0\n", run.stderr.decode()
