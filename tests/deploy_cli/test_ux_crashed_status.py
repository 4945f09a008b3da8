"""Issue 19, item 14: ``rig status`` shows no uptime for a crashed app."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.deploy_cli.conftest import write_app
from tests.support.cli import Rig

CRASH_AFTER_START = (
    "web: python app.py\nworker: sh -c 'if [ -e ran ]; then exit 1; fi; touch ran; sleep 2; exit 1'"
)


def test_a_crashed_app_has_no_uptime(deployer: Rig, tmp_path: Path) -> None:
    deployer.ok("create", "network", "crash")
    source = write_app(tmp_path / "loop", "v1", procfile=CRASH_AFTER_START)
    deployer.ok("deploy", str(source), "--app", "loop", "--network", "crash", "--create")
    command = ("status", "app", "loop", "--network", "crash")
    deadline = time.monotonic() + 60
    while (status := deployer.ok(*command, "-o", "json").json())["state"] != "crashed":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["uptime_s"] is None, status
    deadline = time.monotonic() + 30
    while "crashed" not in (text := deployer.ok(*command).out):
        assert time.monotonic() < deadline, text
    assert re.search(r"^uptime\s*:?\s+-\s*$", text, re.M | re.I), text
