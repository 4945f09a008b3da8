"""The synchronous facade as a one-shot command uses it: in the main thread, in a process of
its own — Ctrl+C, idle CPU, and leaving early."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from rig.transport.follow import follow
from tests.realtime.app import LogStore, ServerThread

TOPIC = "logs:app:alpha/web"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def follower(server: ServerThread, store: LogStore) -> Iterator[subprocess.Popen[str]]:
    store.append(TOPIC, "first")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.realtime.follow_client", server.url, "tok-alice", TOPIC, "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert json.loads(proc.stdout.readline())["line"] == "first"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_ctrl_c_ends_a_follow_cleanly(follower: subprocess.Popen[str]) -> None:
    follower.send_signal(signal.SIGINT)
    assert follower.wait(30) == 130
    assert follower.stderr is not None
    assert follower.stderr.read() == "interrupted\n"


@pytest.mark.alone  # its CPU share
def test_an_idle_follow_does_not_spin(follower: subprocess.Popen[str]) -> None:
    """Its first line came through the joined socket: from then on it only sleeps until a
    line or a heartbeat is due, a small share of a CPU, under a bound ten times the bench's
    target for an idle follow (0.5 %) that a loop polling or spinning would pass by far."""
    process = psutil.Process(follower.pid)
    before, started = process.cpu_times(), time.monotonic()
    time.sleep(4)
    after, elapsed = process.cpu_times(), time.monotonic() - started
    used = (after.user - before.user) + (after.system - before.system)
    share = used / elapsed
    print(f"idle follow (heartbeat every 1 s): {share * 100:.2f} % CPU over {elapsed:.1f} s")
    assert share < 0.05


def test_leaving_the_loop_early_closes_the_socket(server: ServerThread, store: LogStore) -> None:
    for i in range(5):
        store.append(TOPIC, str(i))
    stream = follow(server.url, lambda: {"token": "tok-alice"}, [TOPIC], after={TOPIC: 2})
    got = []
    for record in stream:
        got.append(record["seq"])
        if len(got) == 2:
            break
    stream.close()
    assert got == [3, 4]
