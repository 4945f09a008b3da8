"""The shell in a real pseudo-terminal, as a new user would drive it (pexpect)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pexpect
import pytest

from tests.support.platform import Platform
from tests.terminal.conftest import ROOT, SOCKET_ONLY, rig

pytestmark = pytest.mark.alone  # a screen read on a deadline

TIMEOUT = 15


def start(env: dict[str, str]) -> pexpect.spawn:
    """The shell (whose names come from its socket only) on a 30x140 pseudo-terminal."""
    return pexpect.spawn(
        sys.executable,
        SOCKET_ONLY,
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(30, 140),
    )


def spawn(env: dict[str, str]) -> pexpect.spawn:
    child = start(env)
    child.expect_exact("rig dev>")
    return child


def leave(child: pexpect.spawn) -> None:
    """Ctrl+D, and the shell ends with exit code 0."""
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_session_as_a_new_user(env: dict[str, str], platform: Platform) -> None:
    child = spawn(env)

    child.sendline("use network shop")
    child.expect_exact("rig dev:shop>")
    child.sendline("use app api")
    child.expect_exact("rig dev:shop/api>")

    # an app created from another terminal becomes completable: this shell never polls for
    # names, so its socket (the join, or the event) brought it
    rig(env, "create", "app", "fresh-app", "--network", "shop")
    deadline = time.monotonic() + TIMEOUT
    child.send("details app fre")
    while True:  # Tab until it completes the name (nothing to complete adds nothing)
        child.send("\t")
        try:
            child.expect_exact("fresh-app", timeout=0.2)
            break
        except pexpect.TIMEOUT:
            assert time.monotonic() < deadline, "the new app never completed"
    child.send("\r")
    child.expect_exact("fresh-app.shop.localhost")
    child.expect_exact("rig dev:shop/api>")

    # a background job prints above the prompt while a line is half typed
    child.sendline("list apps &")
    child.expect_exact("[1] list apps")
    child.send("list netw")
    child.expect_exact("[1] done")
    child.send("orks\r")
    child.expect(r"shop\s+shop\.localhost")
    child.sendline("jobs")
    child.expect_exact("[1] done     list apps")

    # a job blocked on a frozen platform is killed
    assert platform.process is not None
    os.kill(platform.process.pid, signal.SIGSTOP)
    try:
        child.sendline("list networks &")
        child.expect_exact("[1] list networks")
        child.sendline("jobs")
        child.expect_exact("[1] running  list networks")
        child.sendline("kill 1")
        child.expect_exact("[1] killed   list networks")
    finally:
        os.kill(platform.process.pid, signal.SIGCONT)

    # Ctrl+C drops a half-typed line and the shell stays
    child.send("delete app a")
    child.sendcontrol("c")
    child.expect_exact("rig dev:shop/api>")
    child.sendline("use none")
    child.expect_exact("Selection cleared.")
    child.expect_exact("rig dev>")

    # Ctrl+D leaves; the selection and history survive for the next session
    child.sendline("use app shop/api")
    child.expect_exact("rig dev:shop/api>")
    leave(child)
    child = spawn_with_selection(env)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)


def spawn_with_selection(env: dict[str, str]) -> pexpect.spawn:
    child = pexpect.spawn(sys.executable, ["-m", "rig"], env=env, encoding="utf-8", timeout=TIMEOUT)
    child.expect_exact("rig dev:shop/api>")
    return child
