"""The shell in a real pseudo-terminal, as a new user would drive it (pexpect)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pexpect

from tests.support.platform import Platform
from tests.terminal.conftest import rig

TIMEOUT = 15


def spawn(env: dict[str, str]) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "rig"],
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(30, 140),
    )
    child.expect_exact("rig dev>")
    return child


def test_a_session_as_a_new_user(env: dict[str, str], platform: Platform) -> None:
    started = time.monotonic()
    child = spawn(env)
    startup = time.monotonic() - started

    child.sendline("use network shop")
    child.expect_exact("rig dev:shop>")
    child.sendline("use app api")
    child.expect_exact("rig dev:shop/api>")

    # an app created from another terminal is completable within a second or so
    rig(env, "create", "app", "fresh-app", "--network", "shop")
    created = time.monotonic()
    child.send("details app fre")
    while True:  # Tab until it completes the name (nothing to complete adds nothing)
        child.send("\t")
        try:
            child.expect_exact("fresh-app", timeout=0.2)
            break
        except pexpect.TIMEOUT:
            assert time.monotonic() - created < 1.5, "the new app never completed"
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
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    child = spawn_with_selection(env)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    assert startup < 5


def spawn_with_selection(env: dict[str, str]) -> pexpect.spawn:
    child = pexpect.spawn(sys.executable, ["-m", "rig"], env=env, encoding="utf-8", timeout=TIMEOUT)
    child.expect_exact("rig dev:shop/api>")
    return child
