"""Issue 19, item 5: an app whose first deploy failed recovers when its config changes or it
is restarted (the latest release is retried), and every message says the app's state."""

from __future__ import annotations

from pathlib import Path

from tests.deploy_cli.conftest import fetch, wait_for_body, write_app
from tests.support.cli import Rig
from tests.support.platform import Platform

NEEDS_VAR = (
    "import os, sys\n"
    "if 'DATABASE_URL' not in os.environ:\n"
    "    sys.exit('DATABASE_URL is not set')\n"
)


def test_a_failed_first_deploy_is_retried_by_a_var_change_or_a_restart(
    deployer: Rig, deploy_platform: Platform, tmp_path: Path
) -> None:
    deployer.ok("create", "network", "retry")
    source = write_app(tmp_path / "needy", "v1")
    (source / "app.py").write_text(NEEDS_VAR + (source / "app.py").read_text())
    first = deployer("deploy", str(source), "--app", "needy", "--network", "retry", "--create")
    assert first.code == 1 and "DATABASE_URL is not set" in first.err, str(first)

    page = fetch(deploy_platform, "needy.retry.localhost")
    assert page.status_code == 503 and "No app is serving at" in page.text, page.text
    status = deployer.ok("status", "app", "needy", "--network", "retry", "-o", "json").json()
    assert status["state"] == "failed", status  # the reason is for the owner, not the visitor

    restart = deployer("restart", "app", "needy", "--network", "retry")
    assert restart.code == 1 and "has no release yet" not in restart.err, str(restart)
    assert "did not come up: it is failed" in restart.err
    releases = deployer.ok("list", "releases", "--app", "needy", "-o", "json").json()
    assert [(r["number"], r["status"]) for r in releases] == [(2, "failed"), (1, "failed")]

    run = deployer.ok("create", "var", "DATABASE_URL=sqlite://", "--app", "needy")
    assert "(release 3)" in run.out, run.out
    wait_for_body(deploy_platform, "needy.retry.localhost", "hello from v1", timeout=60)
    status = deployer.ok("status", "app", "needy", "--network", "retry", "-o", "json").json()
    assert status["state"] == "running" and status["release"] == 3, status


def test_a_failed_build_says_so_on_restart(deployer: Rig, tmp_path: Path) -> None:
    deployer.ok("create", "network", "broken")
    source = write_app(tmp_path / "nobuild", "v1")
    (source / "rig.toml").write_text('builder = "none"\nbuild = "exit 3"\n')
    assert (
        deployer("deploy", str(source), "--app", "nobuild", "--network", "broken", "--create").code
        == 1
    )
    restart = deployer("restart", "app", "nobuild", "--network", "broken")
    assert restart.code != 0, str(restart)
    assert "is failed: release 1 failed during build" in restart.err, restart.err
    assert "rig logs build nobuild" in restart.err
