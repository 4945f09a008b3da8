"""What the input-hardening tests (``test_harden_input_*.py``, issue 15) share: a module's own
platform, a remote command over the real socket, and a process's peak memory while an attack
runs."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.support.platform import Platform, PlatformFactory

MiB = 1024 * 1024


@contextlib.contextmanager
def own_platform(
    tmp_path_factory: pytest.TempPathFactory, name: str, **options: Any
) -> Iterator[Platform]:
    """A platform of the module's own (an attack may leave it busy or big), stopped after."""
    factory = PlatformFactory(tmp_path_factory.mktemp(name))
    try:
        yield factory(**options)
    finally:
        factory.stop_all()


def socket_url(platform: Platform, token: str) -> str:
    return f"ws://127.0.0.1:{platform.port}/socket/websocket?vsn=2.0.0&token={token}"


def join_command(ws: ClientConnection, topic: str, cmd: str, timeout: float = 60) -> str:
    """Start ``cmd`` on ``topic``; the session id (AssertionError if refused)."""
    ws.send(json.dumps(["1", "1", topic, "phx_join", {"kind": "command", "cmd": cmd}]))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, ref, got, event, payload = json.loads(ws.recv(timeout=timeout))
        if got == topic and event == "phx_reply" and ref == "1":
            assert payload["status"] == "ok", payload
            return str(payload["response"]["session"])
    raise AssertionError(f"no reply to the join of {topic}")


def run_command(platform: Platform, token: str, topic: str, cmd: str) -> tuple[int, str]:
    """Run ``cmd`` on ``topic`` over the platform's socket as a client would: exit code and
    output (stdout and stderr together)."""
    output = b""
    with connect(socket_url(platform, token), open_timeout=10, max_size=None) as ws:
        join_command(ws, topic, cmd)
        while True:
            _, _, got, event, payload = json.loads(ws.recv(timeout=60))
            if got != topic:
                continue
            if event in ("stdout", "stderr"):
                output += base64.b64decode(payload["data"])
            elif event == "exit":
                return int(payload["code"]), output.decode(errors="replace")


class PeakRss:
    """The highest resident memory of process ``pid`` while the block runs: sampled with
    psutil every few milliseconds, and the kernel's own high-water mark (``VmHWM``, reset on
    entry) where it can be read, whichever is higher."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.before = 0
        self.peak = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / MiB

    def __enter__(self) -> PeakRss:
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")  # resets VmHWM
        self.before = self.peak = self.process.memory_info().rss
        self._sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sampler.join()
        self.peak = max(self.peak, self._high_water_mark())

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.process.memory_info().rss)

    def _high_water_mark(self) -> int:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return 0


def server_pid(platform: Platform) -> int:
    assert platform.process is not None
    return platform.process.pid
