"""Run a release's build command, streaming its output."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from maxlocal.runtime.cgroups import Cgroup, human_size
from maxlocal.runtime.proc import pump, spawn, terminate_group, wait_exit
from maxlocal.runtime.sandbox import Sandbox

BUILD_STREAM = "build"
DEFAULT_TIMEOUT_S = 900.0
SETTLE_S = 0.05
"""How long a step's cgroup may take to empty once its command has exited (a sandbox's
PID namespace tearing down) before what is left of the step is stopped as a group."""


@dataclass(frozen=True)
class BuildResult:
    exit_code: int | None
    duration_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def run_build(
    command: str | None,
    release_dir: Path,
    env: Mapping[str, str],
    on_line: Callable[[str, str], object],
    timeout: float = DEFAULT_TIMEOUT_S,
    *,
    sandbox: Sandbox | None = None,
    cgroup: Cgroup | None = None,
) -> BuildResult:
    """Run ``command`` with ``/bin/sh -c`` in ``release_dir``, in its own process group.

    Each line of output (stdout and stderr together, in order) goes to
    ``on_line("build", line)``. ``env`` is used as given (see ``proc.child_env``). After
    ``timeout`` seconds the whole group is stopped and the result says ``timed_out``.
    No command: nothing runs and the build succeeds.
    """
    if not command:
        return BuildResult(0, 0.0)
    started = time.monotonic()
    proc = spawn(command, release_dir, env, merge_stderr=True, sandbox=sandbox, cgroup=cgroup)
    assert proc.stdout is not None
    reader = pump(proc.stdout, lambda line: on_line(BUILD_STREAM, line), "build-output")
    timed_out = False
    try:
        timed_out = not wait_exit(proc, timeout)
    finally:
        if timed_out or cgroup is None or not _emptied(cgroup):
            terminate_group(proc, grace=2.0)
        reader.join(timeout=5.0)
    if cgroup is not None and cgroup.new_oom_kills():
        memory = cgroup.resources.memory or 0
        on_line(BUILD_STREAM, f"the build ran out of memory (limit {human_size(memory)})")
    if timed_out:
        on_line(BUILD_STREAM, f"build timed out after {timeout:.3g} s and was stopped")
    return BuildResult(proc.returncode, time.monotonic() - started, timed_out)


def _emptied(cgroup: Cgroup) -> bool:
    """Whether nothing of an ended step runs any more, as its cgroup says (no process can
    leave it). ``terminate_group`` has to scan every process of the machine, twice, for the
    same answer: a sandbox's exiting init stays in the step's process group until the
    machine's init reaps it, 50-170 ms a step on a loaded machine. Unreadable: not known."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        try:
            with open(cgroup.procs_files[0]) as procs:
                if not procs.read().split():
                    return True
        except (OSError, IndexError):
            return False
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
