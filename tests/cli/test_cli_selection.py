"""Commands that act on one app or network take the selection when no NAME or flag names it:
the shell's `use`, else RIG_NETWORK/RIG_APP, else rig.toml (flag > selection > env > rig.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.apps import GREETING_APP
from tests.support.cli import Rig, single_error_line


@pytest.fixture
def project(logged_in: Rig, tmp_path: Path) -> Path:
    """App api in network shop, deployed twice, and a directory whose rig.toml names it.

    A second network has an app of the same name, so nothing works by finding the only one."""
    rig = logged_in
    rig.ok("create", "network", "shop")
    rig.ok("create", "network", "other")
    rig.ok("create", "app", "api", "--network", "other")
    source = tmp_path / "api"
    source.mkdir()
    (source / "app.py").write_text(GREETING_APP)
    (source / "rig.toml").write_text(
        '[processes]\nweb = "python app.py"\n\n[app]\nname = "api"\nnetwork = "shop"\n'
    )
    return source


def test_every_single_app_command_takes_the_selection_from_env_and_rig_toml(
    logged_in: Rig, project: Path, tmp_path: Path
) -> None:
    rig = logged_in
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"RIG_NETWORK": "shop", "RIG_APP": "api"}

    # deploy: the env names the app (and --create makes it in the env's network) ...
    first = rig.ok("deploy", str(project), "--create", "-o", "json", env=env).json()
    assert (first["app"], first["network"], first["status"]) == ("api", "shop", "active")
    # ... and rig.toml does, from the project's directory.
    second = rig.ok("deploy", "--detach", "-o", "json", cwd=project).json()
    assert (second["app"], second["network"]) == ("api", "shop")

    for where in ({"env": env, "cwd": elsewhere}, {"env": {}, "cwd": project}):
        kw: dict[str, Any] = where
        details = rig.ok("details", "app", "-o", "json", **kw).json()
        assert (details["name"], details["network"]) == ("api", "shop"), where
        network = rig.ok("details", "network", "-o", "json", **kw).json()
        assert network["name"] == "shop" and [a["name"] for a in network["apps"]] == ["api"]
        status = rig.ok("status", "app", "-o", "json", **kw).json()
        assert (status["app"], status["network"]) == ("api", "shop"), where
        net_status = rig.ok("status", "network", "-o", "json", **kw).json()
        assert "api" in str(net_status), where
        rig.ok("logs", "app", "--tail", "5", **kw)
        rig.ok("logs", "network", "--tail", "5", **kw)
        rig.ok("list", "releases", **kw)
        rig.ok("create", "var", "GREETING=hi", "--no-restart", **kw)
        assert "GREETING" in rig.ok("list", "vars", **kw).out
        ran = rig.ok("command", "basename $(dirname $PWD)", **kw)
        assert ran.out.strip() == "api", where  # the release directory is .../api/<release>
        shell = rig.ok("shell", input="echo from-shell\n", **kw)
        assert "from-shell" in shell.out, where
        exported = rig.ok("details", "app", "--export", "-", **kw).out
        assert "api" in exported and "GREETING" in exported

    rolled = rig.ok("rollback", "--to", "1", "--detach", "-o", "json", env=env).json()
    assert (rolled["app"], rolled["network"], rolled["rolled_back_to"]) == ("api", "shop", 1)

    # The flag beats the environment, which beats rig.toml.
    flagged = rig.ok("details", "app", "api", "--network", "other", "-o", "json", env=env).json()
    assert flagged["network"] == "other"
    other = rig.ok(
        "details", "network", "-o", "json", cwd=project, env={"RIG_NETWORK": "other"}
    ).json()
    assert other["name"] == "other"
    named = rig.ok("details", "network", "shop", "-o", "json", env={"RIG_NETWORK": "other"})
    assert named.json()["name"] == "shop"


def test_without_a_selection_the_error_says_how_to_name_it(logged_in: Rig, tmp_path: Path) -> None:
    for args, how in [
        (("details", "app"), "rig details app NAME"),
        (("details", "network"), "rig details network NAME"),
        (("status", "app"), "rig status app NAME"),
        (("status", "network"), "rig status network NAME"),
        (("rollback",), "pass --app APP"),
    ]:
        run = logged_in(*args, cwd=tmp_path)
        line = single_error_line(run)
        assert run.code == 2 and "say which" in line and how in line, str(run)


def test_the_shell_selection_serves_details(logged_in: Rig, project: Path, tmp_path: Path) -> None:
    script = "use network shop\nuse app api\ndetails app -o json\ndetails network -o json\n"
    run = logged_in.ok("repl", input=script, cwd=tmp_path)
    assert '"hostname"' in run.out and '"domain"' in run.out, str(run)
