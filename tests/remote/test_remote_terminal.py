"""``rig shell`` in a real pseudo-terminal (pexpect): a local bash runs rig, so ``stty -a`` can be
compared before and after, however the remote shell ends."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.remote.conftest import (
    ROOT,
    RemotePlatform,
    processes_with,
    resize,
    start_platform,
    stop_platform,
    wait_for,
)
from tests.remote.server import GREETING

TIMEOUT = 15
LOCAL = "local$ "
REMOTE = "api.shop:"


@pytest.fixture
def terminal(remote: RemotePlatform, tmp_path: Path) -> Iterator[pexpect.spawn]:
    yield from _terminal(remote, tmp_path)


def _terminal(remote: RemotePlatform, tmp_path: Path) -> Iterator[pexpect.spawn]:
    env = remote.env()
    env.update(TERM="xterm", PS1=LOCAL)
    child = pexpect.spawn(
        "/bin/bash",
        ["--norc", "--noprofile"],
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(30, 100),
    )
    child.expect_exact(LOCAL)
    yield child
    child.close(force=True)


def open_shell(child: pexpect.spawn, tmp_path: Path, *flags: str) -> None:
    """Record ``stty -a``, run ``rig shell``, then print its status and record ``stty -a``."""
    before, after = tmp_path / "before", tmp_path / "after"
    rig = " ".join(
        [sys.executable, "-m", "rig", "shell", *(flags or ("--app api --network shop",))]
    )
    child.sendline(f"stty -a > {before}; {rig}; echo rc=$?; stty -a > {after}")


def closed_with(child: pexpect.spawn, tmp_path: Path) -> int:
    """The exit code of ``rig shell``, once the terminal is back at the local prompt; checks
    that the local terminal's settings are exactly what they were."""
    child.expect(r"rc=(\d+)")
    code = int(child.match.group(1))
    child.expect_exact(LOCAL)
    assert wait_for((tmp_path / "after").exists, 5)
    assert (tmp_path / "after").read_text() == (tmp_path / "before").read_text()
    return code


def test_a_shell_runs_commands_follows_resizes_and_exits_with_its_code(
    terminal: pexpect.spawn, tmp_path: Path
) -> None:
    open_shell(terminal, tmp_path)
    terminal.expect_exact(REMOTE)
    terminal.sendline('stty size; echo "$GREETING"; pwd')
    terminal.expect_exact("30 100")
    terminal.expect_exact(GREETING)
    terminal.expect_exact("/release")

    resize(terminal, 40, 120)
    resize(terminal, 30, 100)  # back, so the local settings compare equal afterwards

    terminal.sendline("exit 7")
    assert closed_with(terminal, tmp_path) == 7


def test_ctrl_c_interrupts_the_remote_foreground_job_and_ctrl_d_ends_the_shell(
    terminal: pexpect.spawn, tmp_path: Path
) -> None:
    open_shell(terminal, tmp_path)
    terminal.expect_exact(REMOTE)
    terminal.sendline("sleep 1000.125")
    assert wait_for(lambda: bool(processes_with("sleep 1000.125")), 5)
    terminal.sendcontrol("c")
    terminal.expect_exact(REMOTE)
    assert wait_for(lambda: not processes_with("sleep 1000.125"), 5)
    terminal.sendline("echo still-here")
    terminal.expect_exact("still-here")
    terminal.sendcontrol("d")
    assert closed_with(terminal, tmp_path) == 0


def test_a_network_shell(terminal: pexpect.spawn, tmp_path: Path) -> None:
    open_shell(terminal, tmp_path, "--network shop")
    terminal.expect_exact("shop:")
    terminal.sendline('echo "region=$REGION"')
    terminal.expect_exact("region=eu")
    terminal.sendline("exit 3")
    assert closed_with(terminal, tmp_path) == 3


def test_the_terminal_is_restored_when_the_platform_dies_mid_session(
    remote: RemotePlatform, terminal: pexpect.spawn, tmp_path: Path
) -> None:
    open_shell(terminal, tmp_path)
    terminal.expect_exact(REMOTE)
    terminal.sendline("echo alive")
    terminal.expect_exact("alive")
    remote.kill()
    terminal.expect_exact("connection to the platform lost")
    assert closed_with(terminal, tmp_path) == 6
    assert wait_for(lambda: not processes_with("bash --noprofile --norc -i"), 5)


def test_another_user_cannot_open_a_shell(
    remote: RemotePlatform, terminal: pexpect.spawn, tmp_path: Path
) -> None:
    terminal.sendline("export RIG_TOKEN=tok-bob")
    terminal.expect_exact(LOCAL)
    open_shell(terminal, tmp_path)
    terminal.expect_exact("not found")
    assert closed_with(terminal, tmp_path) == 4


@pytest.fixture
def idle_remote(tmp_path: Path) -> Iterator[RemotePlatform]:
    platform = start_platform(tmp_path / "idle", idle_timeout=1.0)
    yield platform
    stop_platform(platform)


def test_an_idle_shell_ends_with_a_message(idle_remote: RemotePlatform, tmp_path: Path) -> None:
    for child in _terminal(idle_remote, tmp_path):
        open_shell(child, tmp_path)
        child.expect_exact(REMOTE)
        child.expect_exact("[idle for 1 s: closing the session]")
        assert closed_with(child, tmp_path) == 129
