"""Node releases: ``package.json`` with ``package-lock.json`` (``npm ci``, the installed
modules shared by every release with the same lock), without one (``npm install``), or
with ``yarn.lock``/``pnpm-lock.yaml`` when those tools are on the machine; then
``npm run build`` when package.json has a build script."""

from __future__ import annotations

import json

from maxlocal.builders import start
from maxlocal.builders.plan import Detected, Layer, PlanError, Step
from maxlocal.builders.source import Source
from maxlocal.builders.toolbox import Toolbox, key_of
from maxlocal.runtime.procfile import Declared

LOCK_FILES = ("package.json", "package-lock.json", ".npmrc")
NPM_CI = ("ci", "--prefer-offline")
"""How a lock is installed. ``--prefer-offline``: a package already in the download cache is
taken from it without asking the registry. Plain ``npm ci`` revalidates every cached
packument and tarball of the lock once it is older than the registry's max-age (5 min): 144
requests for express's 72 packages, 1.7 s more CPU and 1-3 s more wall time here, varying
with the registry's latency. The lock pins each version and its integrity hash, so the
cached copy is the one the lock asks for. Without a lock (``npm install``) versions are
resolved and the registry is asked as usual."""
OTHER_MANAGERS = {
    "yarn.lock": ("yarn", ["install", "--frozen-lockfile"]),
    "pnpm-lock.yaml": ("pnpm", ["install", "--frozen-lockfile"]),
}


def _package(source: Source) -> dict[str, object]:
    text = source.read("package.json") or ""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PlanError(
            f"package.json is not valid JSON: {exc}. Fix it and deploy again "
            "(`npm pkg get name` shows where it breaks)"
        ) from exc
    if not isinstance(data, dict):
        raise PlanError("package.json must be a JSON object")
    return data


def detect(source: Source, tools: Toolbox, config: Declared, *, forced: bool) -> Detected | None:
    if not source.exists("package.json"):
        if forced:
            raise PlanError('rig.toml says builder = "node" but there is no package.json')
        return None
    package = _package(source)
    npm = tools.tool("npm")
    if npm is None or tools.node_version is None:
        raise PlanError("package.json found but node and npm are not installed on the platform")
    env = tools.manager_env("npm")
    found = Detected("node", "", looked_for=start.LOOKED_FOR)
    manager = next((lock for lock in OTHER_MANAGERS if source.exists(lock)), None)
    if manager is not None and not source.exists("package-lock.json"):
        tool, args = OTHER_MANAGERS[manager]
        path = tools.tool(tool)
        if path is None:
            raise PlanError(
                f"{manager} found but {tool} is not installed on the platform (npm is). "
                f"Fix: commit a package-lock.json (`npm install` makes one) and remove {manager}"
            )
        step = Step(f"{tool} install", [str(path), *args], env=tools.manager_env(tool))
        found.steps.append(step)
        found.description = f"node {tools.node_version} from {manager} ({tool})"
    elif source.exists("package-lock.json"):
        parts = [tools.node_version or ""] + [source.read(f) or "" for f in LOCK_FILES]
        key = key_of("node", *parts)
        path = tools.envs / f"node-{key}"
        files = tuple(f for f in LOCK_FILES if source.exists(f))
        step = Step("npm ci", [str(npm), *NPM_CI], cwd=path, env=env)
        layer = Layer("node", key, path, "node_modules", "node_modules", [step], files)
        found.layers.append(layer)
        state = "cached" if layer.ready else "new"
        found.description = (
            f"node {tools.node_version} from package-lock.json, {state} modules {layer.short}"
        )
    else:
        found.steps.append(Step("npm install", [str(npm), "install"], env=env))
        found.description = f"node {tools.node_version} from package.json (no lock: npm install)"
    scripts = package.get("scripts")
    if isinstance(scripts, dict) and scripts.get("build"):
        found.steps.append(Step("npm run build", [str(npm), "run", "build"], env=env))
    inferred = start.infer_node(source)
    if inferred:
        found.processes, found.inferred_from = inferred
    return found
