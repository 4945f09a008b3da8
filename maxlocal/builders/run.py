"""Carry a plan out in a release directory: build or reuse its environments, link them in,
run its steps; every step named in the build log, a failed one named in the error."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from maxlocal.builders import envs
from maxlocal.builders.plan import COMPLETE, Detected, Layer, Plan, Step
from maxlocal.builders.source import DiskSource
from maxlocal.builders.toolbox import Toolbox
from maxlocal.runtime.builder import run_build
from maxlocal.runtime.cgroups import Cgroup
from maxlocal.runtime.proc import child_env
from maxlocal.runtime.procfile import ProcfileError, declared
from maxlocal.runtime.sandbox import BuildBox

Note = Callable[[str], object]
"""A line of the platform's own in the build log (the plan, each step, what was reused)."""
OnLine = Callable[[str, str], object]
"""``on_line("build", line)``: a line of a step's output."""
BaseEnv = Callable[[], dict[str, str]]
"""The tenant environment of the release as it is now (``proc.child_env``): asked again
before each step, since a linked ``.venv`` or ``node_modules`` changes its PATH."""


class StepFailed(Exception):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"step '{step}' {message}")
        self.step = step


def execute(
    plan: Plan,
    release: Path,
    base_env: BaseEnv,
    on_line: OnLine,
    note: Note,
    box: BuildBox | None = None,
    cgroup: Cgroup | None = None,
) -> None:
    """Build ``plan`` in ``release`` (each step in ``box``'s sandbox when given, and in
    ``cgroup``, the build's limits); StepFailed names the step that failed and how."""
    _Build(plan, release, base_env, on_line, note, box=box, cgroup=cgroup).run()


def ensure_python(
    release: Path,
    tools: Toolbox,
    note: Note,
    box: Callable[[], BuildBox | None] = lambda: None,
) -> None:
    """Give a release built by an older platform (before every release had a Python) the bare
    environment, so that its ``python`` still resolves now that PATH is the platform's own.
    A release that cannot have one (it asks for a Python the machine lacks) is left as it is.

    Built in ``box()`` (asked only when there is something to build) like any build step:
    ``uv venv`` runs in the release and reads the tenant's ``uv.toml``/``pyproject.toml``."""
    from maxlocal.builders import python

    if os.path.lexists(release / python.LINK):
        return
    source = DiskSource(release)
    try:
        found = python.with_default(Detected("none", ""), source, tools, declared(source))
    except ProcfileError:
        return
    env = lambda: child_env({}, release)  # noqa: E731
    build = _Build(Plan("none", ""), release, env, _ignore, note, box=box())
    build.deadline = time.monotonic() + build.plan.timeout
    for layer in found.layers:
        build.layer(layer)


def _ignore(stream: str, line: str) -> None:
    pass


@dataclass
class _Build:
    plan: Plan
    release: Path
    base_env: BaseEnv
    on_line: OnLine
    note: Note
    deadline: float = field(default=0.0)
    box: BuildBox | None = None
    cgroup: Cgroup | None = None

    def run(self) -> None:
        self.deadline = time.monotonic() + self.plan.timeout
        self.note(f"plan: {self.plan.summary()}")
        for warning in self.plan.warnings:
            self.note(f"warning: {warning}")
        for layer in self.plan.layers:
            self.layer(layer)
        for step in self.plan.steps:
            self.step(step)

    def layer(self, layer: Layer) -> None:
        envs.record_use(layer.path, self.release / layer.link)  # before: see envs.GRACE_S
        with _locked(layer.path):
            if layer.ready:
                self.note(f"{layer.kind} env {layer.short}: cached, reused (nothing installed)")
            else:
                self.build(layer)
        link = self.release / layer.link
        if os.path.lexists(link):
            self.note(f"the uploaded {layer.link} is replaced by the built one")
            if link.is_dir() and not link.is_symlink():
                shutil.rmtree(link)
            else:
                link.unlink()
        os.symlink((layer.path / layer.target).resolve(), link)

    def build(self, layer: Layer) -> None:
        """Build the environment in place; a failed build leaves nothing to be reused."""
        self.note(f"{layer.kind} env {layer.short}: building")
        shutil.rmtree(layer.path, ignore_errors=True)
        if layer.files:
            layer.path.mkdir(parents=True)
            for name in layer.files:
                shutil.copyfile(self.release / name, layer.path / name)
        if self.box is not None:
            self.box.open(layer.path)
        try:
            for step in layer.steps:
                self.step(step, building=layer.path)
        except BaseException:
            shutil.rmtree(layer.path, ignore_errors=True)
            raise
        _mark_complete(layer.path / COMPLETE)

    def step(self, step: Step, building: Path | None = None) -> None:
        self.note(f"step '{step.name}': {step.shown}")
        left = self.deadline - time.monotonic()
        limit = f"the build's time limit of {self.plan.timeout:g} s (build_timeout in rig.toml)"
        if left <= 0:
            raise StepFailed(step.name, f"was not started: the build reached {limit}")
        env = {**self.base_env(), **step.env, **(self.box.env if self.box is not None else {})}
        sandbox = self.box.step(building) if self.box is not None else None
        cwd = step.cwd or self.release
        result = run_build(
            step.command, cwd, env, self.on_line, left, sandbox=sandbox, cgroup=self.cgroup
        )
        if result.timed_out:
            raise StepFailed(step.name, f"timed out: the build reached {limit}")
        if not result.ok:
            raise StepFailed(step.name, f"failed with exit code {result.exit_code}")
        self.note(f"step '{step.name}' done in {result.duration_s:.1f} s")


def _mark_complete(marker: Path) -> None:
    """Say an environment is built, following no link: the tenant that built it could have
    left one at that name, pointing anywhere the platform can write."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(marker)
    os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time per environment (two apps with one lock file build it once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
