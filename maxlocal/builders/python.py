"""Python releases: ``requirements.txt``, ``pyproject.toml`` (with or without ``uv.lock``),
``poetry.lock`` or ``Pipfile.lock`` (their pins, see locks.py).

The environment is a virtual environment built with ``uv`` (pip when the platform has no
``uv``) from a machine interpreter, once per (inputs, interpreter) in the shared cache and
linked into each release as ``.venv``. Every release gets a Python environment: one
without dependencies gets a bare one, so that ``python3`` and ``python`` are the same for
every app and never the platform's own.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from maxlocal.builders import locks, start
from maxlocal.builders.plan import Detected, Layer, PlanError, Step
from maxlocal.builders.pythons import Interpreter, NoInterpreter, choose
from maxlocal.builders.source import MAX_READ_BYTES, Source
from maxlocal.builders.toolbox import Toolbox, key_of
from maxlocal.runtime.procfile import Declared

LINK = ".venv"


def _inputs(source: Source) -> tuple[str, str] | None:
    """(what the dependencies come from, the text that decides them)."""
    if source.exists("requirements.txt"):
        return "requirements.txt", source.read("requirements.txt") or ""
    if source.exists("pyproject.toml") and source.exists("uv.lock"):
        text = (source.read("pyproject.toml") or "") + "\0" + (source.read("uv.lock") or "")
        return "uv.lock", text
    for lock in locks.LOCKS:
        if source.exists(lock):
            return lock, _lock_text(source, lock)
    if source.exists("pyproject.toml"):
        return "pyproject.toml", source.read("pyproject.toml") or ""
    if source.exists("Pipfile"):
        raise PlanError(
            "Pipfile found without its Pipfile.lock: the platform installs from the lock. "
            "Fix: run `pipenv lock` and deploy Pipfile.lock with it (or a requirements.txt)"
        )
    return None


def _lock_text(source: Source, lock: str) -> str:
    text = source.read(lock)
    if text is None and source.complete:
        raise PlanError(
            f"{lock} could not be read (not UTF-8 text, or over {MAX_READ_BYTES} bytes)"
        )
    return text or ""  # a dry run's client may not have sent it: the plan holds all the same


def _requires_python(source: Source) -> str | None:
    try:
        data = tomllib.loads(source.read("pyproject.toml") or "")
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"pyproject.toml is not valid TOML: {exc}") from exc
    project = data.get("project")
    value = project.get("requires-python") if isinstance(project, dict) else None
    return value if isinstance(value, str) else None


def interpreter(source: Source, config: Declared) -> Interpreter:
    """The interpreter the release asks for: rig.toml ``python``, else ``.python-version``,
    else ``requires-python`` of pyproject.toml, else the newest of the machine."""
    wanted, where = config.toml.python, "rig.toml python"
    if wanted is None and source.exists(".python-version"):
        lines = (source.read(".python-version") or "").splitlines()
        wanted = next((s.strip() for s in lines if s.strip() and not s.startswith("#")), None)
        where = ".python-version"
    if wanted is None and source.exists("pyproject.toml"):
        wanted, where = _requires_python(source), "requires-python in pyproject.toml"
    try:
        return choose(wanted, where)
    except NoInterpreter as exc:
        raise PlanError(
            f"{exc.message}. Fix: ask for one of those in {where}, or install that version "
            "on the platform's machine"
        ) from exc


def _create(tools: Toolbox, python: Interpreter, path: Path) -> Step:
    if tools.uv is not None:
        argv = [str(tools.uv), "venv", "--quiet", "--python", str(python.path), str(path)]
    else:
        argv = [str(python.path), "-m", "venv", str(path)]
    return Step("create environment", argv, env=tools.download_env())


def _install(tools: Toolbox, inputs: str, path: Path, pins: list[str] | None) -> Step:
    """The install step; ``pins``: the requirements read from a lock (locks.py), given on
    the command line, else ``inputs`` is the file to install from."""
    env = tools.download_env()
    py = str(path / "bin" / "python")
    what = pins if pins is not None else ["-r", inputs]
    if tools.uv is None:
        if inputs not in ("requirements.txt", *locks.LOCKS):
            raise PlanError(f"installing from {inputs} needs uv, which this platform lacks")
        return Step("install dependencies", [py, "-m", "pip", "install", *what], env=env)
    uv = str(tools.uv)
    if inputs == "uv.lock":
        argv = [uv, "sync", "--frozen", "--no-install-project", "--no-dev"]
        return Step("install dependencies", argv, env={**env, "UV_PROJECT_ENVIRONMENT": str(path)})
    argv = [uv, "pip", "install", "--python", py, *what]
    return Step("install dependencies", argv, env=env)


def _layer(
    kind: str,
    key: str,
    tools: Toolbox,
    python: Interpreter,
    inputs: str | None = None,
    pins: list[str] | None = None,
) -> Layer:
    path = tools.envs / f"{kind}-{key}"
    step = _create(tools, python, path)
    if inputs is not None:  # one step: made and filled in one sandbox
        install = _install(tools, inputs, path, pins)
        step = Step(install.name, step.argv, env={**step.env, **install.env}, then=(install.argv,))
    return Layer(kind, key, path, LINK, ".", [step])


def detect(source: Source, tools: Toolbox, config: Declared, *, forced: bool) -> Detected | None:
    inputs = _inputs(source)
    if inputs is None and not forced:
        return None
    found = Detected("python", "", looked_for=start.LOOKED_FOR)
    if inputs is not None:  # else: rig.toml says python; the bare environment will do
        name, text = inputs
        python = interpreter(source, config)
        pins = locks.pins(name, text) if name in locks.LOCKS and text else None
        decided_by = "\n".join(pins) if pins is not None else text  # a lock: only its pins
        key = key_of("python", str(python.path), python.label, name, decided_by)
        layer = _layer("python", key, tools, python, name, pins)
        found.layers.append(layer)
        state = "cached" if layer.ready else "new"
        found.description = f"python {python.label} from {name}, {state} env {layer.short}"
    inferred = start.infer_python(source)
    if inferred:
        found.processes, found.inferred_from = inferred
    return found


def with_default(found: Detected, source: Source, tools: Toolbox, config: Declared) -> Detected:
    """``found`` plus the bare Python environment every release without one gets."""
    python = interpreter(source, config)
    key = key_of("python-default", str(python.path), python.label)
    layer = _layer("python-default", key, tools, python)
    found.layers.append(layer)
    if not found.description:
        found.description = f"python {python.label}, no dependencies"
    return found
