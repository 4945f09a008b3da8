"""Issue 19, item 14: a worker-only app's deploy prints no URL (it would answer 503)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy_cli.conftest import write_app
from tests.support.cli import Rig


def test_a_worker_only_deploy_prints_no_url(deployer: Rig, tmp_path: Path) -> None:
    deployer.ok("create", "network", "wk")
    source = write_app(
        tmp_path / "bg", "v1", procfile="worker: python -c 'import time; time.sleep(600)'"
    )
    run = deployer.ok("deploy", str(source), "--app", "bg", "--network", "wk", "--create")
    assert re.fullmatch(
        r"Deployed bg release 1 in [\d.]+ s \(no web process, so no URL\)\n", run.out
    ), run.out
    web = write_app(tmp_path / "fg", "v1")
    run = deployer.ok("deploy", str(web), "--app", "fg", "--network", "wk", "--create")
    assert "http://fg.wk.localhost:" in run.out, run.out
