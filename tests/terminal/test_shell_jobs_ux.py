"""Shell jobs as a bash user drives them, in a real pseudo-terminal (issue 19, item 8): `fg`
with no argument or with %N, what Ctrl+C on a foreground job did, Ctrl+D with jobs running."""

from __future__ import annotations

import pexpect
import pytest

from tests.terminal.test_terminal_shell import spawn

pytestmark = pytest.mark.alone  # a screen read on a deadline

FOLLOW = "logs app api --network shop -f"  # runs until it is killed


def test_fg_alone_takes_the_newest_job_and_ctrl_c_says_what_jobs_says(
    env: dict[str, str],
) -> None:
    child = spawn(env)
    child.sendline(f"{FOLLOW} &")
    child.expect_exact(f"[1] {FOLLOW}")
    child.sendline("fg")
    child.expect_exact(FOLLOW)
    child.sendcontrol("c")
    child.expect_exact(f"[1] killed   {FOLLOW}")
    child.expect_exact("rig dev>")
    child.sendline("jobs")
    child.expect_exact(f"[1] killed   {FOLLOW}")
    child.expect_exact("rig dev>")
    child.sendline("fg")
    child.expect_exact("no running jobs")
    child.expect_exact("rig dev>")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)


def test_fg_and_kill_take_a_job_as_percent_n(env: dict[str, str]) -> None:
    child = spawn(env)
    child.sendline(f"{FOLLOW} &")
    child.expect_exact(f"[1] {FOLLOW}")
    child.sendline(f"{FOLLOW} --tail 1 &")
    child.expect_exact(f"[2] {FOLLOW} --tail 1")
    child.sendline("kill %2")
    child.expect_exact(f"[2] killed   {FOLLOW} --tail 1")
    child.sendline("fg %1")
    child.expect_exact(f"{FOLLOW}\r\n")
    child.sendcontrol("c")
    child.expect_exact(f"[1] killed   {FOLLOW}")
    child.sendline("fg %x")
    child.expect_exact("not a job: '%x'")
    child.expect_exact("rig dev>")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)


def test_ctrl_d_with_a_job_running_asks_first_as_bash_does(env: dict[str, str]) -> None:
    child = spawn(env)
    child.sendline(f"{FOLLOW} &")
    child.expect_exact(f"[1] {FOLLOW}")
    child.expect_exact("rig dev>")
    child.sendcontrol("d")
    child.expect_exact("There are running jobs (see `jobs`)")
    child.expect_exact("rig dev>")
    child.sendline("jobs")  # a command in between: the next Ctrl+D asks again
    child.expect_exact(f"[1] running  {FOLLOW}")
    child.expect_exact("rig dev>")
    child.sendline("exit")
    child.expect_exact("There are running jobs")
    child.expect_exact("rig dev>")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
