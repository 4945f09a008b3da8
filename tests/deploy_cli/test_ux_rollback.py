"""Issue 19, item 1: a rollback names the release asked for, not the one whose build it reuses."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy_cli.conftest import wait_for_body, write_app
from tests.support.cli import Rig
from tests.support.platform import Platform

HOST = "back.roll.localhost"


def test_rollback_to_a_config_release_names_it(
    deployer: Rig, deploy_platform: Platform, tmp_path: Path
) -> None:
    deployer.ok("create", "network", "roll")
    source = write_app(tmp_path / "back", "v1")
    deployer.ok("deploy", str(source), "--app", "back", "--create")  # release 1
    deployer.ok("create", "var", "GREETING=two", "--app", "back")  # release 2, build of 1
    wait_for_body(deploy_platform, HOST, "two from v1")
    deployer.ok("create", "var", "GREETING=three", "--app", "back")  # release 3, build of 1
    wait_for_body(deploy_platform, HOST, "three from v1")

    run = deployer.ok("rollback", "--app", "back", "--to", "2")
    assert re.match(r"Rolled back back to release 2 \(as release 4, active\)", run.out), run.out
    assert "It runs with release 2's environment" in run.out
    wait_for_body(deploy_platform, HOST, "two from v1")

    data = deployer.ok("rollback", "--app", "back", "-o", "json").json()  # the one before 4: 3
    assert data["rolled_back_to"] == 3 and data["release"] == 5, data
    wait_for_body(deploy_platform, HOST, "three from v1")
