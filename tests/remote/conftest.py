from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pexpect
import psutil
import pytest

from tests.support.cli import popen_rig

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # a wait, not a target: a loaded machine may take long to import


@dataclass
class RemotePlatform:
    """``tests.remote.server`` in a process of its own, and ``rig`` run against it."""

    data_dir: Path
    config_dir: Path
    process: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, token: str = "tok-alice") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RIG_")}
        env.update(
            RIG_API=self.url,
            RIG_TOKEN=token,
            RIG_CONFIG_DIR=str(self.config_dir / "config"),
            RIG_STATE_DIR=str(self.config_dir / "state"),
            RIG_CREDENTIAL_STORE="file",
            RIG_NO_UPDATE_CHECK="1",  # loopback only (rig/update.py)
        )
        return env

    def rig(
        self, *args: str, token: str = "tok-alice", input: str = ""
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rig", *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env(token),
            cwd=ROOT,
            timeout=60,
        )

    def popen(self, *args: str, token: str = "tok-alice") -> subprocess.Popen[str]:
        return popen_rig(args, self.env(token))

    def kill(self) -> None:
        """The platform dies at once (SIGKILL), as in a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []


def start_platform(base: Path, idle_timeout: float | None = None) -> RemotePlatform:
    data_dir = base / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "tests.remote.server", str(data_dir)]
    process = subprocess.Popen(
        args + ([str(idle_timeout)] if idle_timeout else []),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the remote test platform did not start") from None
            time.sleep(0.05)
    return RemotePlatform(data_dir, base, process, port)


def stop_platform(platform: RemotePlatform) -> None:
    if platform.process.poll() is None:
        platform.process.terminate()
        try:
            platform.process.wait(10)
        except subprocess.TimeoutExpired:
            platform.process.kill()
            platform.process.wait()


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def resize(child: pexpect.spawn, rows: int, cols: int, timeout: float = 15) -> None:
    """Resize the local terminal, then ask the remote shell its size until it has the new one:
    rig passes a change on when it hears of it (SIGWINCH), a moment that a loaded machine
    can stretch past any fixed pause."""
    child.setwinsize(rows, cols)
    deadline = time.monotonic() + timeout
    while True:
        child.sendline("stty size")
        child.expect(r"[\r\n](\d+) (\d+)\r\n")
        if (int(child.match.group(1)), int(child.match.group(2))) == (rows, cols):
            return
        assert time.monotonic() < deadline, f"the remote terminal is still {child.match[0]!r}"
        time.sleep(0.1)


def processes_with(marker: str) -> list[psutil.Process]:
    """Live processes whose command line contains ``marker``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and marker in " ".join(
            proc.info["cmdline"] or []
        ):
            found.append(proc)
    return found


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[RemotePlatform]:
    platform = start_platform(tmp_path)
    yield platform
    if platform.process.poll() is None:
        # every session has ended by now: none of its processes may be left
        assert wait_for(lambda: not platform.children(), 5), platform.children()
    stop_platform(platform)
