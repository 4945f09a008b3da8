"""A release's build plan: environments, steps, processes, and the line that says it all.

``make_plan`` tries the builders in order (python, node, static; the first that matches
wins) unless ``rig.toml`` names one, and the start command comes from the ``Procfile``
or ``rig.toml`` ``[processes]``, else from the builder's inference.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from maxlocal.builders.source import Source
from maxlocal.builders.toolbox import Toolbox
from maxlocal.runtime.procfile import ProcfileError, declared

DEFAULT_TIMEOUT_S = 900.0


class PlanError(ProcfileError):
    """The release cannot be built or run as it is; the message says what to change."""


@dataclass(frozen=True)
class Step:
    """A command of the build, run in the tenant's environment plus ``env``."""

    name: str
    argv: list[str]
    cwd: Path | None = None  # None: the release directory
    env: Mapping[str, str] = field(default_factory=dict)
    then: tuple[list[str], ...] = ()
    """Commands run after ``argv`` if it succeeds, in the same process (and sandbox): a
    sandbox costs tens of milliseconds to start, a real part of a small build."""

    @property
    def command(self) -> str:
        return " && ".join(shlex.join(argv) for argv in (self.argv, *self.then))

    @property
    def shown(self) -> str:
        """The command as the tenant's build log and plan show it: a platform path (the
        operator's uv, interpreter or data directory) by its last part only."""
        return " && ".join(
            shlex.join(Path(arg).name if arg.startswith("/") else arg for arg in argv)
            for argv in (self.argv, *self.then)
        )


@dataclass(frozen=True)
class Layer:
    """A dependency environment shared by every release whose inputs hash to ``key``: built
    once in ``path`` by ``steps`` (after ``files`` are copied in), then linked into each
    release as ``link`` (e.g. ``.venv``) pointing at ``path / target``."""

    kind: str
    key: str
    path: Path
    link: str
    target: str
    steps: list[Step]
    files: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return (self.path / COMPLETE).is_file()

    @property
    def short(self) -> str:
        return self.key[:6]


COMPLETE = ".rig-complete"


@dataclass
class Plan:
    builder: str  # python | node | static | custom | none
    description: str  # "python 3.11.7 from requirements.txt, cached env a1b2c3"
    layers: list[Layer] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    processes: dict[str, str] = field(default_factory=dict)
    processes_from: str = ""
    timeout: float = DEFAULT_TIMEOUT_S
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``python 3.11 from requirements.txt, cached env a1b2c3; web: gunicorn app:app
        (from Procfile)``."""
        shown = "; ".join(f"{name}: {command}" for name, command in self.processes.items())
        return f"{self.description}; {shown} ({self.processes_from})"

    def to_dict(self) -> dict[str, object]:
        return {
            "builder": self.builder,
            "summary": self.summary(),
            "description": self.description,
            "environments": [
                {"kind": layer.kind, "key": layer.short, "cached": layer.ready}
                for layer in self.layers
            ],
            "steps": [
                {"name": step.name, "command": step.shown}
                for layer in self.layers
                if not layer.ready
                for step in layer.steps
            ]
            + [{"name": step.name, "command": step.shown} for step in self.steps],
            "processes": self.processes,
            "processes_from": self.processes_from,
            "timeout_s": self.timeout,
            "warnings": self.warnings,
        }


@dataclass
class Detected:
    """What a builder found: its environments and steps, a description, and the start
    commands it infers (with why) when the release declares none."""

    builder: str
    description: str
    layers: list[Layer] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    processes: dict[str, str] = field(default_factory=dict)
    inferred_from: str = ""
    looked_for: list[str] = field(default_factory=list)


def make_plan(source: Source, tools: Toolbox) -> Plan:
    """The plan of the release in ``source``; PlanError when it cannot be built or run."""
    from maxlocal.builders import node, python, start, static

    config = declared(source)
    detectors = {"python": python.detect, "node": node.detect, "static": static.detect}
    wanted = config.toml.builder
    found: Detected | None = None
    if wanted in detectors:
        found = detectors[wanted](source, tools, config, forced=True)
    elif wanted is None:
        for detector in detectors.values():
            found = detector(source, tools, config, forced=False)
            if found is not None:
                break
    if found is None:
        found = Detected("none", "no dependencies detected", looked_for=start.LOOKED_FOR)
        inferred = start.infer_python(source) or start.infer_node(source)
        if inferred:
            found.processes, found.inferred_from = inferred
    if not any(layer.kind == "python" for layer in found.layers):  # every release has a Python
        found = python.with_default(found, source, tools, config)
    plan = Plan(found.builder, found.description, found.layers, found.steps)
    if config.toml.build:
        plan.builder = "custom"
        plan.layers = [layer for layer in found.layers if layer.kind == "python-default"]
        plan.steps = [Step("build (rig.toml)", ["/bin/sh", "-c", config.toml.build])]
        plan.description = "build command from rig.toml"
    if config.toml.build_timeout:
        plan.timeout = min(config.toml.build_timeout, DEFAULT_TIMEOUT_S)
    plan.warnings = list(config.warnings)
    if config.processes:
        plan.processes, plan.processes_from = dict(config.processes), f"from {config.source}"
    elif found.processes:
        plan.processes, plan.processes_from = found.processes, f"inferred: {found.inferred_from}"
    else:
        raise PlanError(no_start_command(found.looked_for or start.LOOKED_FOR))
    return plan


def no_start_command(looked_for: list[str]) -> str:
    searched = ["a Procfile", "[processes] in rig.toml", *looked_for]
    return (
        "no start command found: looked for " + ", ".join(searched) + ". Fix: add a Procfile "
        "with a line like `web: python3 app.py` (the app listens on $PORT), or in rig.toml: "
        '`[processes]` then `web = "npm start"`'
    )
