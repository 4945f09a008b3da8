"""Issue 19, item 14: ``rig audit`` inside a rig.toml project lists that app's sessions only
(``--all`` lists everyone's), as every other command means the project's app."""

from __future__ import annotations

from pathlib import Path

from tests.deploy_cli.conftest import write_app
from tests.support.cli import Rig


def test_audit_in_a_project_is_limited_to_its_app(deployer: Rig, tmp_path: Path) -> None:
    deployer.ok("create", "network", "aud")
    for app in ("mine", "other"):
        source = write_app(tmp_path / app, "v1")
        deployer.ok("deploy", str(source), "--app", app, "--network", "aud", "--create")
        deployer.ok("command", "true", "--app", app, "--network", "aud")
    project = tmp_path / "mine"
    (project / "rig.toml").write_text('[app]\nname = "mine"\nnetwork = "aud"\n')

    rows = deployer.ok("audit", "-o", "json", cwd=project).json()
    assert rows and {(r["network"], r["app"]) for r in rows} == {("aud", "mine")}, rows
    everyone = deployer.ok("audit", "--all", "-o", "json", cwd=project).json()
    assert {r["app"] for r in everyone} >= {"mine", "other"}, everyone
    outside = deployer.ok("audit", "-o", "json", cwd=tmp_path).json()
    assert {r["app"] for r in outside} >= {"mine", "other"}, outside
