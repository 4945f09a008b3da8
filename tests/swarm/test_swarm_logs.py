"""Logs against the real engine: one follow sees every instance, stamped with its slot, across a
rolling update and across the engine restarting a task whose container was killed."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable

import pytest

from maxlocal.runtime.swarm import logs, services
from tests.swarm.conftest import Releases, spec

pytestmark = [pytest.mark.swarm, pytest.mark.slow]

TICKING = [
    "sh",
    "-c",
    "i=0; while i=$((i+1)); do echo tick $i; sleep 0.1; done & exec python3 app.py",
]


class Collected:
    def __init__(self, follow: logs.LogFollow) -> None:
        self.lines: list[logs.LogLine] = []
        self.thread = threading.Thread(target=lambda: self.lines.extend(follow), daemon=True)
        self.thread.start()

    def wait(self, what: Callable[[list[logs.LogLine]], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not what(list(self.lines)):
            other = [
                (line.slot, line.task_id, line.text)
                for line in self.lines
                if "tick" not in line.text
            ]
            firsts = {line.task_id: line.text for line in reversed(self.lines)}
            assert time.monotonic() < deadline, f"not seen in {timeout} s: {other} {firsts}"
            time.sleep(0.1)


def started(release: str, count: int) -> Callable[[list[logs.LogLine]], bool]:
    return lambda lines: sum(line.text == f"starting {release}" for line in lines) >= count


def test_swarm_follow_spans_instances_updates_and_a_killed_task(
    docker_client, releases: Releases, app_name: str
) -> None:
    services.deploy(docker_client, spec(app_name, releases.r1, "r1", replicas=2, command=TICKING))
    first = services.wait_converged(docker_client, app_name, "r1", 2)
    follow = logs.LogFollow(docker_client, app_name)
    seen = Collected(follow)
    try:
        seen.wait(started("r1", 2))
        services.deploy(
            docker_client, spec(app_name, releases.r2, "r2", replicas=2, command=TICKING)
        )
        updated = services.wait_converged(docker_client, app_name, "r2", 2)
        seen.wait(started("r2", 2))

        victim = updated[0]
        docker_client.api.kill(victim.container_id)
        seen.wait(started("r2", 3))
        again = services.wait_converged(docker_client, app_name, "r2", 2)
        seen.wait(lambda lines: any(line.text == "tick 5" for line in lines[-200:]))
    finally:
        follow.close()
        seen.thread.join(timeout=10)

    lines = seen.lines
    replaced = {i.slot: i.task_id for i in again}
    assert replaced[victim.slot] != victim.task_id  # the engine started a new task in its slot
    by_task: dict[str, list[logs.LogLine]] = defaultdict(list)
    for line in lines:
        by_task[line.task_id].append(line)
    tasks = {i.task_id for i in first} | {i.task_id for i in updated} | set(replaced.values())
    assert tasks <= set(by_task)  # every instance's lines, on one follow
    for task, own in by_task.items():
        assert len({line.slot for line in own}) == 1
        ticks = [int(line.text.split()[1]) for line in own if line.text.startswith("tick ")]
        assert ticks == list(range(1, len(ticks) + 1)), f"task {task} lost lines"
        assert ("stderr", f"warming {'r1' if task in {i.task_id for i in first} else 'r2'}") in {
            (line.stream, line.text) for line in own
        }
    assert {line.slot for line in lines} == {1, 2}


def test_swarm_logs_without_follow_end(docker_client, releases: Releases, app_name: str) -> None:
    services.deploy(docker_client, spec(app_name, releases.r1, "r1"))
    services.wait_converged(docker_client, app_name, "r1", 1)
    deadline = time.monotonic() + 20
    while True:
        lines = list(logs.LogFollow(docker_client, app_name, follow=False))
        if any(line.text == "starting r1" for line in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert {(line.slot, line.stream, line.text) for line in lines} == {
        (1, "stdout", "starting r1"),
        (1, "stderr", "warming r1"),
    }
