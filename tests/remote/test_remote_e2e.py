"""END TO END, AFTER THE WIRING: ``rig command`` and ``rig shell`` against the real maxlocal.

These need ``maxlocal/server.py`` to serve the socket with the ``exec:*`` handler and to
include the remote router (see ``maxlocal/remote/__init__.py``). They must not be skipped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.deploy.conftest import EVERY_RUNTIME, runtime
from tests.deploy_cli.conftest import write_app
from tests.remote.conftest import ROOT, resize, wait_for
from tests.support.cli import Rig, base_env
from tests.support.docker import base_image, docker_client
from tests.support.platform import Platform, PlatformPool

__all__ = ["base_image", "docker_client", "runtime"]

GREETING = "hello from the real platform"
SECRET = "e2e-S3cret-Value"
APP = ("--app", "api")
LOCAL = "local$ "
TIMEOUT = 20


@pytest.fixture(scope="module")
def runtime_pool(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformPool]:
    """Platforms that run ``runtime`` (``EVERY_RUNTIME``), taken in turn as the session's pool."""
    pool = PlatformPool(tmp_path_factory.mktemp(f"remote-{runtime}"), runtime=runtime)
    yield pool
    pool.close()


@pytest.fixture
def shared_platform(
    request: pytest.FixtureRequest, runtime_pool: PlatformPool
) -> Iterator[Platform]:
    """tests/support/cli.py's, on a platform of the module's runtime."""
    if "platform" in request.fixturenames:
        yield request.getfixturevalue("platform")
        return
    yield runtime_pool.take()
    runtime_pool.give_back()


@pytest.fixture
def api(logged_in: Rig, tmp_path: Path) -> Rig:
    """App ``api`` in network ``shop``, deployed, with a var and a secret."""
    logged_in.ok("create", "network", "shop")
    logged_in.ok("deploy", str(write_app(tmp_path / "src", "v1")), *APP, "--create")
    logged_in.ok("create", "var", f"GREETING={GREETING}", *APP)
    logged_in.ok("create", "secret", f"API_KEY={SECRET}", *APP)

    def configured() -> bool:  # the two config releases run (sessions get the active one's env)
        newest = logged_in.ok("list", "releases", *APP, "-o", "json").json()[0]
        return bool(newest["number"] == 3 and newest["status"] == "active")

    assert wait_for(configured, 60), logged_in.ok("list", "releases", *APP).out
    return logged_in


@EVERY_RUNTIME
def test_rig_command_against_the_real_platform(api: Rig, second_user: Rig) -> None:
    assert api("command", "exit 3", *APP).code == 3
    run = api.ok("command", 'echo "$GREETING"; ls app.py', *APP)
    assert run.out == f"{GREETING}\napp.py\n"
    run = api("command", "echo to-out; echo to-err >&2", *APP)
    assert (run.out, run.err) == ("to-out\n", "to-err\n")
    assert api("command", "kill -9 $$", *APP).code == 137
    doc = api("command", f'test "$API_KEY" = {SECRET}; echo $?', *APP, "-o", "json").json()
    assert (doc["exit_code"], doc["stdout"]) == (0, "0\n")
    assert api("shell", *APP, input="cd /\nfalse\n").code == 1

    refused = second_user("command", "id", *APP, "--network", "shop")
    assert refused.code == 4, refused
    assert second_user("shell", *APP, "--network", "shop", input="id\n").code == 4

    rows = api.ok("audit", *APP, "-o", "json").json()
    assert SECRET not in json.dumps(rows)
    assert [r["exit_code"] for r in rows] == [3, 0, 0, 137, 0, 1]
    assert rows[4]["command"] == 'test "$API_KEY" = [secret]; echo $?'
    assert {r["user_email"] for r in rows} == {api.user["email"]}
    assert second_user.ok("audit", "-o", "json").json() == []
    assert api.ok("list", "sessions", "-o", "json").json() == []


@pytest.fixture
def terminal(api: Rig) -> Iterator[pexpect.spawn]:
    env = base_env(api.config_dir)
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


def shell_status(child: pexpect.spawn, tmp_path: Path) -> int:
    child.expect(r"rc=(\d+)")
    code = int(child.match.group(1))
    child.expect_exact(LOCAL)
    assert wait_for((tmp_path / "after").exists, 5)
    assert (tmp_path / "after").read_text() == (tmp_path / "before").read_text()
    return code


def open_shell(child: pexpect.spawn, tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    rig = f"{sys.executable} -m rig shell --app api"
    child.sendline(f"stty -a > {before}; {rig}; echo rc=$?; stty -a > {after}")
    child.expect_exact("api.shop:")


@EVERY_RUNTIME
def test_rig_shell_in_a_terminal_against_the_real_platform(
    api: Rig, terminal: pexpect.spawn, tmp_path: Path
) -> None:
    open_shell(terminal, tmp_path)
    terminal.sendline('stty size; echo "$GREETING"')
    terminal.expect_exact("30 100")
    terminal.expect_exact(GREETING)
    resize(terminal, 40, 120)
    resize(terminal, 30, 100)
    terminal.sendline("exit 7")
    assert shell_status(terminal, tmp_path) == 7
    shells = [r for r in api.ok("audit", *APP, "-o", "json").json() if r["kind"] == "shell"]
    assert [(r["command"], r["exit_code"]) for r in shells] == [("shell", 7)]


def test_the_terminal_is_sane_when_the_platform_is_killed_mid_session(
    api: Rig, platform: Platform, terminal: pexpect.spawn, tmp_path: Path
) -> None:
    open_shell(terminal, tmp_path)
    terminal.sendline("echo alive")
    terminal.expect_exact("alive")
    assert platform.process is not None
    platform.process.kill()
    terminal.expect_exact("connection to the platform lost")
    assert shell_status(terminal, tmp_path) == 6
