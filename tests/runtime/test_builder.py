from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

import psutil
import pytest

from maxlocal.runtime.builder import run_build
from maxlocal.runtime.proc import SYSTEM_PATH, child_env

PY = shlex.quote(sys.executable)


class Lines:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def __call__(self, stream: str, line: str) -> None:
        self.items.append((stream, line))

    @property
    def text(self) -> list[str]:
        return [line for _, line in self.items]


def test_output_in_order_with_env_and_exit_code(tmp_path: Path) -> None:
    lines = Lines()
    command = 'echo "one $GREETING"; echo two >&2; printf "no newline"; exit 3'
    result = run_build(command, tmp_path, child_env({"GREETING": "hi"}), lines)
    assert result.exit_code == 3 and not result.ok
    assert lines.items == [("build", "one hi"), ("build", "two"), ("build", "no newline")]


def test_runs_in_the_release_dir(tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("here")
    lines = Lines()
    assert run_build("cat marker", tmp_path, child_env({}), lines).ok
    assert lines.text == ["here"]


def test_no_command_is_a_successful_no_op(tmp_path: Path) -> None:
    lines = Lines()
    assert run_build(None, tmp_path, child_env({}), lines).ok
    assert lines.items == []


def test_timeout_stops_the_whole_group(tmp_path: Path) -> None:
    lines = Lines()
    command = "sleep 600 & echo $! > child.pid; echo started; wait"
    started = time.monotonic()
    result = run_build(command, tmp_path, child_env({}), lines, timeout=0.5)
    assert time.monotonic() - started < 60  # at the timeout, not after the sleep's 600 s
    assert result.timed_out and not result.ok
    assert lines.text[0] == "started" and "timed out" in lines.text[-1]
    child = int((tmp_path / "child.pid").read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == "zombie"


def test_venv_build_then_its_python_comes_first_on_path(tmp_path: Path) -> None:
    lines = Lines()
    build = f"{PY} -m venv --without-pip .venv && echo built"
    assert run_build(build, tmp_path, child_env({}, tmp_path), lines).ok
    assert lines.text == ["built"]
    env = child_env({}, tmp_path)
    assert env["PATH"].split(":")[0] == str(tmp_path / ".venv" / "bin")
    assert env["VIRTUAL_ENV"] == str(tmp_path / ".venv")
    lines = Lines()
    assert run_build('python -c "import sys; print(sys.prefix)"', tmp_path, env, lines).ok
    assert lines.text == [str(tmp_path / ".venv")]


def test_child_env_keeps_platform_secrets_out() -> None:
    os.environ["MAXLOCAL_SECRET_KEY"] = "do-not-leak"
    try:
        env = child_env({"APP_VAR": "1"})
    finally:
        del os.environ["MAXLOCAL_SECRET_KEY"]
    assert "MAXLOCAL_SECRET_KEY" not in env
    assert env["APP_VAR"] == "1" and env["PYTHONUNBUFFERED"] == "1" and "PATH" in env


def test_child_env_is_the_same_whatever_the_platform_was_started_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An activated venv, an operator's HOME and PATH: none of it reaches a tenant process."""
    (tmp_path / "release" / "node_modules" / ".bin").mkdir(parents=True)
    home = tmp_path / "home"
    plain = child_env({"APP_VAR": "1"}, tmp_path / "release", home=home, port=8123)
    monkeypatch.setenv("VIRTUAL_ENV", str(Path(sys.prefix)))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:/opt/operator/bin:/usr/bin")
    monkeypatch.setenv("HOME", "/home/operator")
    monkeypatch.setenv("PYTHONPATH", "/opt/operator/lib")
    activated = child_env({"APP_VAR": "1"}, tmp_path / "release", home=home, port=8123)
    assert activated == plain
    assert plain == {
        "PATH": f"{tmp_path}/release/node_modules/.bin:" + ":".join(SYSTEM_PATH),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "APP_VAR": "1",
        "PORT": "8123",
    }
