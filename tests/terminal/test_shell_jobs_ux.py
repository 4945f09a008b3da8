"""Shell jobs as a bash user drives them, in a real pseudo-terminal (issue 19, item 8): `fg`
with no argument or with %N, what Ctrl+C on a foreground job did, Ctrl+D with jobs running."""

from __future__ import annotations

import pexpect
import pytest

from tests.terminal.test_terminal_shell import leave, spawn

pytestmark = pytest.mark.alone  # a screen read on a deadline

FOLLOW = "logs app api --network shop -f"  # runs until it is killed
PROMPT = "rig dev>"


def session(child: pexpect.spawn, steps: list[tuple[str, list[str]]]) -> None:
    """Each step: a line to send (``^C``, ``^D``: the key), then the texts to see, in order."""
    for send, expected in steps:
        if send in ("^C", "^D"):
            child.sendcontrol(send[1].lower())
        else:
            child.sendline(send)
        for text in expected:
            child.expect_exact(text)


def test_fg_alone_takes_the_newest_job_and_ctrl_c_says_what_jobs_says(
    env: dict[str, str],
) -> None:
    child = spawn(env)
    killed = f"[1] killed   {FOLLOW}"
    session(
        child,
        [
            (f"{FOLLOW} &", [f"[1] {FOLLOW}"]),
            ("fg", [FOLLOW]),
            ("^C", [killed, PROMPT]),
            ("jobs", [killed, PROMPT]),
            ("fg", ["no running jobs", PROMPT]),
        ],
    )
    leave(child)


def test_fg_and_kill_take_a_job_as_percent_n(env: dict[str, str]) -> None:
    child = spawn(env)
    session(
        child,
        [
            (f"{FOLLOW} &", [f"[1] {FOLLOW}"]),
            (f"{FOLLOW} --tail 1 &", [f"[2] {FOLLOW} --tail 1"]),
            ("kill %2", [f"[2] killed   {FOLLOW} --tail 1"]),
            ("fg %1", [f"{FOLLOW}\r\n"]),
            ("^C", [f"[1] killed   {FOLLOW}"]),
            ("fg %x", ["not a job: '%x'", PROMPT]),
        ],
    )
    leave(child)


def test_ctrl_d_with_a_job_running_asks_first_as_bash_does(env: dict[str, str]) -> None:
    child = spawn(env)
    asks = "There are running jobs (see `jobs`)"
    session(
        child,
        [
            (f"{FOLLOW} &", [f"[1] {FOLLOW}", PROMPT]),
            ("^D", [asks, PROMPT]),
            ("jobs", [f"[1] running  {FOLLOW}", PROMPT]),  # in between: Ctrl+D asks again
            ("exit", [asks, PROMPT]),
            ("jobs", [PROMPT]),
            ("quit", [asks, PROMPT]),
        ],
    )
    leave(child)
