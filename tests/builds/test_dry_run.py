"""``rig deploy --dry-run --app APP`` prints the build plan the platform would follow, from the
files alone, before anything is uploaded; a release that would fail says why, exit 1."""

from __future__ import annotations

from pathlib import Path

from tests.builds.conftest import Tenant

FLASK_APP = "from flask import Flask\napp = Flask(__name__)\n"


def source(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_the_dry_run_prints_the_plan(tenant: Tenant, tmp_path: Path) -> None:
    root = source(
        tmp_path / "app",
        {
            "requirements.txt": "flask\ngunicorn\n",
            "app.py": FLASK_APP,
            "Procfile": "web: gunicorn app:app\n",
        },
    )
    run = tenant.rig("deploy", str(root), "--app", "new-app", "--dry-run")
    assert run.code == 0, str(run)
    line = next(x for x in run.out.splitlines() if x.startswith("Build plan: "))
    assert line.startswith("Build plan: python 3.") and "from requirements.txt" in line
    assert line.endswith("; web: gunicorn app:app (from Procfile)")
    data = tenant.rig("deploy", str(root), "--app", "new-app", "--dry-run", "-o", "json").json()
    assert data["uploaded"] is False
    assert data["build"]["builder"] == "python"
    assert [s["name"] for s in data["build"]["steps"]][-1] == "install dependencies"
    assert tenant.api.http.get("/networks").json() == []


def test_the_dry_run_of_a_release_that_would_fail_says_why(tenant: Tenant, tmp_path: Path) -> None:
    root = source(tmp_path / "app", {"requirements.txt": "requests\n"})
    run = tenant.rig("deploy", str(root), "--app", "new-app", "--dry-run")
    assert run.code == 1, str(run)
    assert "Build plan: would fail: no start command found: looked for a Procfile" in run.out
    assert "Traceback" not in run.err
