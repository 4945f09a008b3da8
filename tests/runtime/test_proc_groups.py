"""Process groups as the platform ends them: nothing of a group outlives ``terminate_group``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from maxlocal.runtime.proc import child_env, group_alive, spawn, terminate_group, wait_exit

STUBBORN = "trap '' TERM; for i in 1 2 3 4; do sleep 60 & done; echo started; wait"


def members(pgid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                found.append(proc)
        except (OSError, psutil.Error):
            continue
    return found


def test_a_group_that_ignores_sigterm_is_killed_and_gone_when_it_returns(tmp_path: Path) -> None:
    """Every member ignores SIGTERM (an ignored signal stays ignored across exec), so the
    grace runs out and SIGKILL ends them: when terminate_group returns, none is left, not
    only the leader it reaped."""
    proc = spawn(STUBBORN, tmp_path, child_env({}), merge_stderr=True)
    assert proc.stdout is not None and proc.stdout.readline() == b"started\n"
    deadline = time.monotonic() + 10
    while len(members(proc.pid)) < 5:
        assert time.monotonic() < deadline, "the group did not start"
        time.sleep(0.02)
    assert terminate_group(proc, grace=0.3) == -signal.SIGKILL
    assert not group_alive(proc.pid)
    assert members(proc.pid) == []


def test_a_group_that_obeys_sigterm_ends_within_the_grace(tmp_path: Path) -> None:
    proc = spawn(
        "sleep 60 & sleep 60 & echo started; wait", tmp_path, child_env({}), merge_stderr=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"started\n"
    assert terminate_group(proc, grace=30) == -signal.SIGTERM
    assert members(proc.pid) == []


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "without pidfds"])
def test_wait_exit_says_whether_the_process_ended_and_reaps_it(
    tmp_path: Path, pidfd: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open")
    env = child_env({}, home=tmp_path)
    slow = spawn("sleep 30", tmp_path, env, merge_stderr=True)
    try:
        assert wait_exit(slow, 0.2) is False
        assert slow.returncode is None and slow.poll() is None
    finally:
        terminate_group(slow, grace=1.0)
    quick = spawn("sleep 0.2; exit 3", tmp_path, env, merge_stderr=True)
    assert wait_exit(quick, 30) is True
    assert quick.returncode == 3  # reaped: no zombie left
    with pytest.raises(ProcessLookupError):
        os.kill(quick.pid, 0)


def test_wait_exit_never_asks_a_reaped_pid_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once reaped (here by another ``wait``), a pid may be another process's: a second
    ``wait_exit`` answers from the exit code alone, opening no pidfd on that pid."""
    done = spawn("exit 4", tmp_path, child_env({}, home=tmp_path), merge_stderr=True)
    assert done.wait(timeout=30) == 4
    opened: list[int] = []
    monkeypatch.setattr(os, "pidfd_open", lambda pid, *flags: opened.append(pid) or 0)
    assert wait_exit(done, 30) is True
    assert opened == []
