"""The session manager in-process, the audit's masking, and the join params."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from maxlocal.audit import MASK, mask
from maxlocal.realtime.topics import JoinRefused
from maxlocal.remote.channel import parse_request
from maxlocal.remote.sessions import Ended, SessionManager, TooManySessions
from maxlocal.remote.target import ExecTopic, parse_topic
from maxlocal.runtime.proc import child_env
from tests.remote.conftest import processes_with, wait_for


class Collector:
    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.ended: Ended | None = None
        self.done = threading.Event()

    def on_exit(self, ended: Ended) -> None:
        self.ended = ended
        self.done.set()

    def wait(self) -> Ended:
        assert self.done.wait(15)
        assert self.ended is not None
        return self.ended


@pytest.fixture
def manager() -> SessionManager:
    return SessionManager(max_per_user=3)


def command(
    manager: SessionManager, cmd: str, tmp_path: Path, timeout: float | None = None
) -> Collector:
    c = Collector()
    env = child_env({})
    manager.start_command(
        cmd, tmp_path, env, c.out.extend, c.err.extend, c.on_exit, timeout, user="u"
    )
    return c


def test_a_command_ends_with_its_code_its_output_read_and_out_of_the_registry(
    manager: SessionManager, tmp_path: Path
) -> None:
    c = command(manager, "echo out; echo err >&2; exit 3", tmp_path)
    ended = c.wait()
    assert (ended.code, ended.reason) == (3, "exit")
    assert (bytes(c.out), bytes(c.err)) == (b"out\n", b"err\n")
    assert manager.live() == []


def test_background_processes_and_shell_jobs_end_with_their_session(
    manager: SessionManager, tmp_path: Path
) -> None:
    command(manager, "sleep 1000.375 & exit 0", tmp_path).wait()
    assert not processes_with("sleep 1000.375")

    c = Collector()
    shell = manager.start_shell(tmp_path, child_env({}), 80, 24, c.out.extend, c.on_exit)
    shell.write(b"set -m; sleep 1000.625 &\n")  # a job: a process group of its own
    assert wait_for(lambda: bool(processes_with("sleep 1000.625")), 5)
    shell.kill()
    assert c.wait().reason == "disconnected"
    assert not processes_with("sleep 1000.625")


def test_a_shell_has_a_terminal_of_the_given_size_and_follows_resizes(
    manager: SessionManager, tmp_path: Path
) -> None:
    c = Collector()
    shell = manager.start_shell(tmp_path, child_env({}), 90, 20, c.out.extend, c.on_exit)
    shell.write(b"stty size\n")
    assert wait_for(lambda: b"20 90" in c.out, 5)
    shell.resize(132, 43)
    shell.write(b"stty size; exit 6\n")
    assert c.wait().code == 6
    assert b"43 132" in c.out


def test_interrupt_timeout_and_shutdown(manager: SessionManager, tmp_path: Path) -> None:
    c = Collector()
    session = manager.start_command(
        "trap 'exit 9' INT; echo ready; sleep 30 & wait",
        tmp_path,
        child_env({}),
        c.out.extend,
        c.err.extend,
        c.on_exit,
    )
    assert wait_for(lambda: b"ready" in c.out, 5)
    session.send_signal("INT")
    assert c.wait().code == 9
    with pytest.raises(ValueError):
        session.send_signal("BOGUS")

    timed = command(manager, "sleep 30", tmp_path, timeout=0.5)
    assert (timed.wait().code, timed.ended and timed.ended.reason) == (143, "timeout")

    running = [command(manager, "sleep 1000.875", tmp_path) for _ in range(2)]
    manager.close()
    assert [r.wait().reason for r in running] == ["shutdown", "shutdown"]
    assert not processes_with("sleep 1000.875")


def test_sessions_per_user_are_limited(manager: SessionManager, tmp_path: Path) -> None:
    sleepers = [command(manager, "sleep 30", tmp_path) for _ in range(3)]
    assert len(manager.live("u")) == 3 and manager.live("someone else") == []
    with pytest.raises(TooManySessions):
        command(manager, "true", tmp_path)
    manager.close()
    for sleeper in sleepers:
        sleeper.wait()


def test_masking_replaces_every_secret_value_longest_first() -> None:
    assert mask("a=hunter2 b=hunter2x c=", ["hunter2", "hunter2x", ""]) == (f"a={MASK} b={MASK} c=")


def test_topics_and_join_params() -> None:
    assert parse_topic("exec:shop/api") == ExecTopic("shop", "api")
    assert parse_topic("exec:network:shop") == ExecTopic("shop")
    for bad in ("exec:shop", "exec:Shop/api", "exec:shop/", "logs:shop/api", "exec:network:"):
        assert parse_topic(bad) is None
    assert parse_request({"kind": "command", "cmd": "ls", "timeout": 5}).timeout == 5.0
    shell = parse_request({"kind": "shell", "cols": 100, "rows": 30})
    assert (shell.cols, shell.rows, shell.tty) == (100, 30, True)
    for bad_params in (
        {"kind": "command"},
        {"kind": "command", "cmd": "ls", "timeout": -1},
        {"kind": "shell", "cols": 0},
        {"kind": "shell", "term": "x; rm -rf /"},
        {"kind": "other"},
    ):
        with pytest.raises(JoinRefused):
            parse_request(bad_params)
