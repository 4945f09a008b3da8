"""Issue 19, item 14: a network var change names each restarted app with its release."""

from __future__ import annotations

from pathlib import Path

from tests.deploy_cli.conftest import wait_for_body, write_app
from tests.support.cli import Rig
from tests.support.platform import Platform


def test_a_network_var_change_names_the_apps_it_restarts(
    deployer: Rig, deploy_platform: Platform, tmp_path: Path
) -> None:
    deployer.ok("create", "network", "nv")
    for app in ("alpha", "beta"):
        source = write_app(tmp_path / app, "v1")
        deployer.ok("deploy", str(source), "--app", app, "--network", "nv", "--create")
    run = deployer.ok("create", "var", "GREETING=hi", "--network", "nv")
    assert "Restarting the apps of network nv with changed keys: GREETING (" in run.out, run.out
    assert "alpha release 2" in run.out and "beta release 2" in run.out, run.out
    for app in ("alpha", "beta"):
        wait_for_body(deploy_platform, f"{app}.nv.localhost", "hi from v1", timeout=60)

    run = deployer.ok("delete", "var", "GREETING", "--network", "nv", "--yes")
    assert "alpha release 3" in run.out and "beta release 3" in run.out, run.out
    run = deployer.ok("create", "var", "GREETING=yo", "--app", "alpha")
    assert run.out.rstrip().endswith("Restarting alpha with changed keys: GREETING (release 4)")
