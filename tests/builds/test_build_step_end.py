"""A build step runs as the platform runs it (sandboxed, in the build's cgroup): what it
leaves running, even in a session of its own, is stopped when it ends, whether the cgroup
says at once that nothing is left (the usual case) or the group has to be stopped."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from maxlocal.builders.toolbox import Toolbox
from maxlocal.runtime import sandbox
from maxlocal.runtime.builder import run_build
from maxlocal.runtime.cgroups import Cgroups
from maxlocal.runtime.proc import child_env


def test_what_a_step_leaves_running_is_stopped_and_a_clean_step_leaves_nothing(
    tmp_path: Path,
) -> None:
    isolation = sandbox.choose(sandbox.AUTO, Toolbox(tmp_path).sandbox_paths())
    cgroups = Cgroups.detect(f"test-{uuid.uuid4().hex[:8]}")
    try:
        group = cgroups.group(("step-end", "build"), cgroups.defaults)
        release = tmp_path / "release"
        release.mkdir()
        uid = sandbox.app_uid(77) if isolation.separate_uids else None
        isolation.give(release, uid)
        box = isolation.sandbox(uid, writable=[release])
        marker, lines = release / "alive", list[str]()

        def step(script: str) -> None:
            result = run_build(script, release, child_env({}), lambda s, line: lines.append(line),
                               timeout=60, sandbox=box, cgroup=group)  # fmt: skip
            assert result.ok, lines
            assert group is None or group.pids() == []

        step(f"setsid sh -c 'while :; do touch {marker}; sleep 0.05; done' & sleep 0.3")
        assert marker.exists()
        marker.unlink()
        time.sleep(0.3)
        assert not marker.exists()  # the loop is gone with its step
        step("echo clean")
        assert lines[-1] == "clean"
    finally:
        cgroups.close()
