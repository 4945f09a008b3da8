"""Issue 19, item 11: Ctrl+C (on a real terminal) while a deploy builds stops the watching,
says the platform continues the deploy and where to see it; the deploy does go on."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli.test_cli_terminal import finish, spawn
from tests.deploy_cli.conftest import wait_for_body, write_app
from tests.support.cli import Rig
from tests.support.platform import Platform


def test_ctrl_c_during_a_deploy_says_the_platform_continues(
    deployer: Rig, deploy_platform: Platform, tmp_path: Path
) -> None:
    deployer.ok("create", "network", "intr")
    source = write_app(tmp_path / "slow", "v1")
    (source / "rig.toml").write_text('builder = "none"\nbuild = "echo building now; sleep 6"\n')
    child = spawn(deployer, "deploy", str(source), "--app", "slow", "--network", "intr", "--create")
    child.expect("building now", timeout=60)
    child.sendintr()
    code, rest = finish(child)
    assert code == 130, rest
    assert "the platform continues the deploy of release 1 of app slow (network intr)" in rest
    assert "rig status app slow --network intr" in rest

    deadline = time.monotonic() + 60
    while (
        deployer.ok("status", "app", "slow", "--network", "intr", "-o", "json").json()["state"]
        != "running"
    ):
        assert time.monotonic() < deadline, "the deploy did not go on"
        time.sleep(0.5)
    wait_for_body(deploy_platform, "slow.intr.localhost", "hello from v1")
