"""rig.toml names the app and network: commands in the project need no flags; `context show`."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.apps import GREETING_APP
from tests.support.cli import Rig


def test_project_file_supplies_app_and_network(logged_in: Rig, tmp_path: Path) -> None:
    rig = logged_in
    rig.ok("create", "network", "shop")
    rig.ok("create", "network", "other")
    rig.ok("create", "app", "api", "--network", "shop")
    rig.ok("create", "app", "api", "--network", "other")
    project = tmp_path / "api"
    (project / "src").mkdir(parents=True)
    (project / "app.py").write_text(GREETING_APP)
    (project / "rig.toml").write_text('[processes]\nweb = "python app.py"\n')

    run = rig.ok("init", "--network", "shop", cwd=project)
    assert "app api in network shop" in run.out
    text = (project / "rig.toml").read_text()
    assert text.startswith('[processes]\nweb = "python app.py"\n') and '[app]\nname = "api"' in text
    assert rig("init", cwd=project).code == 5

    deep = project / "src"
    deployed = rig.ok("deploy", "-o", "json", cwd=deep).json()
    assert (deployed["app"], deployed["network"], deployed["status"]) == ("api", "shop", "active")
    assert deployed["files"] == 2  # the project's root, not src/
    status = rig.ok("status", "app", "-o", "json", cwd=deep).json()
    assert (status["network"], status["state"]) == ("shop", "running")
    deadline = time.monotonic() + 10
    while "up" not in rig.ok("logs", "app", cwd=deep).out and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "up" in rig.ok("logs", "app", cwd=deep).out
    assert rig.platform is not None
    port = rig.platform.port
    response = httpx.get(
        f"http://127.0.0.1:{port}/", headers={"Host": f"api.shop.localhost:{port}"}, timeout=5
    )
    assert response.text == "hello"

    rig.ok("create", "var", "GREETING=hi", cwd=deep)
    assert rig.ok("list", "vars", "--network", "other", cwd=deep).out.count("GREETING") == 0
    env_run = rig.ok("list", "vars", "-o", "json", cwd=deep, env={"RIG_NETWORK": "other"})
    assert env_run.json() == []

    shown = rig.ok("context", "show", "-o", "json", cwd=deep).json()
    assert shown["app"] == "api" and shown["network"] == "shop"
    assert shown["app_source"] == f"project file ({project / 'rig.toml'})"
    assert shown["project_file"] == str(project / "rig.toml")
    assert shown["login_context"] == "default" and shown["user"]
    from_env = rig.ok("context", "show", "-o", "json", cwd=deep, env={"RIG_APP": "web"}).json()
    assert (from_env["app"], from_env["app_source"]) == (
        "web",
        "environment (RIG_NETWORK / RIG_APP)",
    )
    assert from_env["network"] is None
    flagged = rig.ok(
        "context", "show", "--app", "x", "-o", "json", cwd=deep, env={"RIG_APP": "web"}
    ).json()
    assert (flagged["app"], flagged["app_source"]) == ("x", "flag")
    nothing = rig.ok("context", "show", "-o", "json", cwd=tmp_path).json()
    assert nothing["app"] is None and nothing["project_file"] is None
    assert "rig init" in nothing["app_source"]


def test_init_names_the_app_after_the_directory(rig: Rig, tmp_path: Path) -> None:
    project = tmp_path / "My_Site"
    project.mkdir()
    rig.ok("init", cwd=project)
    assert (project / "rig.toml").read_text().endswith('[app]\nname = "my-site"\n')
    (project / "rig.toml").write_text("[app\n")
    run = rig("context", "show", cwd=project)
    assert run.code == 2 and "not valid TOML" in run.err
