"""Disk per app, by attack: a tenant filling its home. One file cannot grow past the app's
``[resources] disk`` (RLIMIT_FSIZE from the cgroup join), and many files past it get the app
stopped within a few seconds (the supervisor measures the home), said in `rig status` and
`rig logs`; a start then refuses until the home is emptied. The same writes under the
default limit go through: the attack is real, the limit is what stops it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.conftest import wait_for
from tests.limits.test_platform_limits import PY, new_app, source, status
from tests.support.cli import Rig
from tests.support.platform import Platform, PlatformFactory

IDLE = "import time\nwhile True:\n    time.sleep(1)\n"
ONE_FILE = "dd if=/dev/zero of=$HOME/big bs=1M count=40 2>&1; echo dd=$?; stat -c size=%s $HOME/big"
MANY_FILES = (
    "for i in 1 2 3 4 5 6; do dd if=/dev/zero of=$HOME/part$i bs=1M count=5 2>/dev/null; done;"
    " du -sm $HOME"
)


@pytest.fixture
def platform(platform_factory: PlatformFactory) -> Platform:
    return platform_factory(health_timeout=150)


def deploy(rig: Rig, tmp_path: Path, resources: str) -> tuple[str, str]:
    network, app = new_app(rig)
    src = source(tmp_path, {"worker": f"{PY} idle.py"}, resources, **{"idle.py": IDLE})
    rig.ok("deploy", str(src), "--app", app, "--network", network)
    return network, app


def test_one_file_cannot_outgrow_the_disk_limit(
    platform: Platform, logged_in: Rig, tmp_path: Path
) -> None:
    rig = logged_in
    network, app = deploy(rig, tmp_path, 'disk = "16M"\n')
    run = rig("command", ONE_FILE, "--app", app, "--network", network)
    # dd is ended by SIGXFSZ (a program that ignores it gets EFBIG) at the limit, not a byte on
    assert "dd=0" not in run.out and "size=16777216" in run.out, str(run)

    roomy, other = deploy(rig, tmp_path / "roomy", "")  # the default: 4 GiB
    run = rig("command", ONE_FILE, "--app", other, "--network", roomy)
    assert "dd=0" in run.out and "size=41943040" in run.out, str(run)


def test_an_app_filling_its_home_is_stopped_and_refused_a_start(
    platform: Platform, logged_in: Rig, tmp_path: Path
) -> None:
    rig = logged_in
    network, app = deploy(rig, tmp_path, 'disk = "16M"\n')
    target = ("--app", app, "--network", network)
    assert status(rig, network, app)["state"] == "running"
    rig.ok("command", MANY_FILES, *target)  # 30 MiB in six files of 5
    wait_for(lambda: status(rig, network, app)["state"] == "failed", 30, "the app stopped")
    over = r"the app's home holds 3\d(\.\d+)? MiB, over its disk limit of 16 MiB "
    over += r"\(\[resources\] disk in rig\.toml\)"
    logs = rig.ok("logs", "app", app, "--network", network).out
    assert re.search(rf"platform\| stopped: {over}$", logs, re.MULTILINE), logs

    rig("start", "app", app, "--network", network)
    logs = rig.ok("logs", "app", app, "--network", network).out
    assert re.search(rf"release 1 did not start: {over}$", logs, re.MULTILINE), logs
    assert status(rig, network, app)["state"] == "failed"

    rig.ok("command", "rm -f $HOME/part*", *target)
    rig.ok("start", "app", app, "--network", network)
    wait_for(lambda: status(rig, network, app)["state"] == "running", 30, "the app running")
