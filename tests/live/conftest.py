"""Live logs and status against the real platform: a user with an API token, apps that print
numbered lines, and ``rig`` runs that keep going (follows, watches) read line by line."""

from __future__ import annotations

import queue
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from tests.support.cli import Rig, base_env, popen_rig
from tests.support.platform import Platform

# Prints "n=1", "n=2", ... every PERIOD seconds (PERIOD 0: never), and answers on PORT so that
# it passes the platform's health check.
COUNTER = textwrap.dedent(
    """
    import http.server, os, threading, time

    PERIOD = {period}
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", int(os.environ["PORT"])), http.server.BaseHTTPRequestHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    n = 0
    while True:
        if PERIOD:
            n += 1
            print(f"n={{n}}", flush=True)
            time.sleep(PERIOD)
        else:
            time.sleep(3600)
    """
)


def write_counter(root: Path, period: float, build: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Procfile").write_text("web: python app.py\n")
    (root / "app.py").write_text(COUNTER.format(period=period))
    if build is not None:
        (root / "rig.toml").write_text(f"build = {build!r}\n")
    return root


@dataclass
class Running:
    """A ``rig`` command left running; its stdout and stderr lines arrive in queues."""

    proc: subprocess.Popen[str]
    out: queue.Queue[tuple[float, str]] = field(default_factory=queue.Queue)
    err: list[str] = field(default_factory=list)

    def start_readers(self) -> Running:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        _pump(self.proc.stdout, lambda line: self.out.put((time.monotonic(), line)))
        _pump(self.proc.stderr, self.err.append)
        return self

    def lines(self, count: int, timeout: float = 20) -> list[str]:
        """The next ``count`` stdout lines."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            try:
                got.append(self.out.get(timeout=max(0.01, deadline - time.monotonic()))[1])
            except queue.Empty:
                message = f"only {len(got)} of {count} lines; stderr: {self.err}"
                raise AssertionError(message) from None
        return got

    def stderr_says(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.err):
            assert time.monotonic() < deadline, f"stderr never said {text!r}: {self.err}"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def _pump(stream: IO[str], sink: Callable[[str], None]) -> None:
    def run() -> None:
        for line in stream:
            sink(line.rstrip("\n"))

    threading.Thread(target=run, daemon=True).start()


@dataclass
class User:
    """A user of ``platform`` acting through ``rig`` with an API token (``RIG_TOKEN``)."""

    rig: Rig
    platform: Platform
    token: str
    api: str = ""

    def env(self, **extra: str) -> dict[str, str]:
        return {"RIG_API": self.api or self.platform.url, "RIG_TOKEN": self.token, **extra}

    def ok(self, *args: str) -> str:
        return self.rig.ok(*args, env=self.env()).out

    def start(self, *args: str, **env: str) -> Running:
        proc = popen_rig(args, {**base_env(self.rig.config_dir), **self.env(**env)})
        return Running(proc).start_readers()


@pytest.fixture
def make_user(make_rig: Callable[[], Rig]) -> Callable[[Platform, str], User]:
    def make(platform: Platform, email: str) -> User:
        return User(make_rig(), platform, platform.add_user(email)["token"])

    return make


@pytest.fixture
def running() -> Iterator[list[Running]]:
    """Collects the commands a test leaves running, and kills whatever is left at the end."""
    started: list[Running] = []
    yield started
    for run in started:
        run.stop()
