"""Releases locked by yarn or pnpm build with that tool when the platform has it (the real
yarn and pnpm from the npm registry, installed for this test into a prefix of its own),
and are refused with the fix when it does not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from maxlocal.builders.plan import PlanError, make_plan
from maxlocal.builders.source import DiskSource
from maxlocal.builders.toolbox import Toolbox
from maxlocal.runtime.proc import SYSTEM_PATH, child_env
from tests.builds.conftest import build, package_json

TOOLS = {"yarn": "yarn@1.22.22", "pnpm": "pnpm@9.15.9"}
LOCKS = {"yarn": "yarn.lock", "pnpm": "pnpm-lock.yaml"}
MAKE_LOCK = {"yarn": ["install", "--silent"], "pnpm": ["install", "--lockfile-only"]}
PACKAGE = package_json(dependencies={"is-number": "7.0.0"}, main="index.js")
INDEX = "console.log(require('is-number/package.json').version)\n"


@pytest.fixture(scope="module")
def node_tools(tmp_path_factory: pytest.TempPathFactory, build_cache: Path) -> Toolbox:
    """A toolbox whose tool directories hold yarn and pnpm (npm installed them there)."""
    prefix = tmp_path_factory.mktemp("node-tools")
    tools = Toolbox(build_cache)
    env = {**child_env({}, home=prefix), **tools.download_env()}
    npm = tools.tool("npm")
    assert npm is not None, "npm is needed to install yarn and pnpm"
    subprocess.run(
        [str(npm), "install", "--prefix", str(prefix), *TOOLS.values()],
        env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return Toolbox(build_cache, tool_dirs=(str(prefix / "node_modules" / ".bin"), *SYSTEM_PATH))


@pytest.mark.network
@pytest.mark.parametrize("tool", list(TOOLS))
def test_a_release_locked_by_yarn_or_pnpm_builds_with_it(
    tmp_path: Path, node_tools: Toolbox, tool: str
) -> None:
    path = node_tools.tool(tool)
    assert path is not None
    maker = tmp_path / "maker"  # the developer's checkout, where the lock is made
    maker.mkdir()
    (maker / "package.json").write_text(PACKAGE)
    env = {**child_env({}, home=tmp_path), **node_tools.download_env()}
    made = subprocess.run(
        [str(path), *MAKE_LOCK[tool]], cwd=maker, env=env, capture_output=True, timeout=300
    )
    assert made.returncode == 0, made.stderr.decode()

    release = tmp_path / "release"
    release.mkdir()
    shutil.copyfile(maker / LOCKS[tool], release / LOCKS[tool])
    (release / "package.json").write_text(PACKAGE)
    (release / "index.js").write_text(INDEX)
    notes = build(release, node_tools)
    assert (
        f"from {LOCKS[tool]} ({tool}); web: node index.js (inferred: main of package.json)"
        in (notes[0])
    )
    assert f"step '{tool} install': {tool} install --frozen-lockfile" in notes
    run = subprocess.run(
        ["node", "index.js"], cwd=release, env=child_env({}, release), capture_output=True
    )
    assert run.stdout == b"7.0.0\n", run.stderr.decode()
    # the tool's downloads went to the platform's shared cache, not the app's HOME
    assert any((node_tools.cache / "npm").glob("_yarn" if tool == "yarn" else "_pnpm"))


@pytest.mark.parametrize("tool", list(TOOLS))
def test_without_the_tool_a_yarn_or_pnpm_lock_is_refused_with_the_fix(
    tmp_path: Path, tool: str
) -> None:
    only_npm = tmp_path / "bin"  # a machine with npm and neither yarn nor pnpm
    only_npm.mkdir()
    npm = Toolbox(tmp_path).tool("npm")
    assert npm is not None
    (only_npm / "npm").symlink_to(npm)
    release = tmp_path / "release"
    release.mkdir()
    for name, text in {"package.json": PACKAGE, LOCKS[tool]: "", "index.js": INDEX}.items():
        (release / name).write_text(text)
    with pytest.raises(PlanError) as refused:
        make_plan(DiskSource(release), Toolbox(tmp_path, tool_dirs=(str(only_npm),)))
    assert refused.value.message == (
        f"{LOCKS[tool]} found but {tool} is not installed on the platform (npm is). "
        f"Fix: commit a package-lock.json (`npm install` makes one) and remove {LOCKS[tool]}"
    )
