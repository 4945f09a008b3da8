"""Issue 19, item 11: each log line says which process instance wrote it (``api[web.1]``,
``api[worker.1]``), and ``-o json`` has it as fields ``process`` and ``instance``, stored or
followed live; ``rig logs build`` across releases names each line's release."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.deploy.conftest import EVERY_RUNTIME
from tests.deploy_cli.conftest import write_app
from tests.support.cli import Rig, Run

pytestmark = EVERY_RUNTIME

WORKER = (
    "worker: python -u -c \"import itertools, time; print('worker says hi'); "
    "[print('tick', i) or time.sleep(0.3) for i in itertools.count()]\""
)
APP = ("--app", "both", "--network", "procs")


def wait_for_lines(rig: Rig, *needles: str, timeout: float = 30) -> Run:
    deadline = time.monotonic() + timeout
    while True:
        run = rig.ok("logs", "app", *APP)
        if all(n in run.out for n in needles) or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def test_lines_name_their_process_instance_and_builds_their_release(
    deployer: Rig, tmp_path: Path
) -> None:
    deployer.ok("create", "network", "procs")
    source = write_app(tmp_path / "both", "v1", procfile=f"web: python app.py\n{WORKER}")
    deployer.ok("deploy", str(source), *APP, "--create")

    out = wait_for_lines(deployer, "worker says hi", "listening on").out
    assert " both[worker.1] stdout| worker says hi\n" in out, out
    assert " both[web.1] stdout| listening on " in out, out

    records = [
        json.loads(line) for line in deployer.ok("logs", "app", *APP, "-o", "json").out.splitlines()
    ]
    worker = next(r for r in records if r["line"] == "worker says hi")
    assert (worker["process"], worker["instance"]) == ("worker", "worker.1")
    network = deployer.ok("logs", "network", "procs").out
    assert " both[worker.1] stdout| worker says hi\n" in network, network

    # Followed live on the socket (the line after the one stored), a line has them too.
    follow = deployer.popen(
        "logs", "app", *APP, "-f", "-o", "json", "--tail", "1", "--grep", "tick"
    )
    try:
        assert follow.stdout is not None
        stored, live = json.loads(follow.stdout.readline()), json.loads(follow.stdout.readline())
        assert live["seq"] > stored["seq"] and live["line"].startswith("tick"), live
        assert (live["process"], live["instance"]) == ("worker", "worker.1"), live
    finally:
        follow.kill()
        follow.communicate()

    deployer.ok(
        "deploy",
        str(write_app(tmp_path / "both", "v2", procfile=f"web: python app.py\n{WORKER}")),
        *APP,
    )
    build = deployer.ok("logs", "build", *APP).out.splitlines()
    assert any(" both r1 platform| build done in " in line for line in build), build
    assert any(" both r2 platform| build done in " in line for line in build), build
