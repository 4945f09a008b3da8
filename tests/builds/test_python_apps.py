"""A Flask app as a new user writes it (requirements.txt, app.py; no Procfile, no rig.toml)
deploys with real uv against the package index, serves through the router, runs the
pinned Flask, leaves rig's own environment untouched, and redeploys from its cached
environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.builds.conftest import Tenant, freeze
from tests.deploy.conftest import routed

pytestmark = pytest.mark.network

FLASK_APP = """\
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "hello from flask\\n"
"""
SHOW_VERSION = 'python -c "import flask; print(flask.__version__)"'


def machine_flask() -> str | None:
    """The Flask of the interpreter the platform would fall back on, if any."""
    run = subprocess.run(
        ["python3", "-c", "import importlib.metadata as m; print(m.version('flask'))"],
        capture_output=True,
        text=True,
    )
    return run.stdout.strip() or None


# Not the Flask this machine has, so the app cannot be using that one.
PINNED = "3.0.2" if machine_flask() == "3.0.3" else "3.0.3"
FILES: dict[str, str | bytes] = {
    "requirements.txt": f"flask=={PINNED}\ngunicorn==23.0.0\n",
    "app.py": FLASK_APP,
}


def test_a_flask_app_deploys_from_requirements_alone(tenant: Tenant) -> None:
    before = freeze()
    network, app = tenant.new_app("flask")
    release = tenant.deploy_ok(network, app, FILES)
    assert routed(tenant.platform, network, app).text == "hello from flask\n"

    run = tenant.command(network, app, SHOW_VERSION)
    assert (run.code, run.out) == (0, f"{PINNED}\n"), str(run)
    which = tenant.command(network, app, "which python3")
    assert which.out.strip().endswith(".venv/bin/python3"), str(which)
    assert not which.out.startswith(sys.prefix)
    assert freeze() == before

    log = tenant.build_lines(network, app, release["number"])
    assert log[0].startswith("plan: python ") and "from requirements.txt, new env " in log[0]
    assert (
        "web: gunicorn app:app --bind 127.0.0.1:$PORT (inferred: gunicorn and a Flask app"
        in (log[0])
    )
    assert any(line.startswith("step 'install dependencies': ") for line in log)
    # the tenant's log shows no path of the operator's (rig's venv, the data directory)
    assert not [line for line in log if sys.prefix in line or str(tenant.platform.data_dir) in line]

    # The same dependencies again: nothing is installed, the build log says so.
    again = tenant.deploy_ok(network, app, {**FILES, "app.py": FLASK_APP.replace("hello", "again")})
    log = tenant.build_lines(network, app, again["number"])
    assert "cached env" in log[0]
    assert any("cached, reused (nothing installed)" in line for line in log)
    assert not any(line.startswith("step 'install dependencies'") for line in log)
    assert routed(tenant.platform, network, app).text == "again from flask\n"
    assert freeze() == before


def test_another_app_shares_the_environment_only_without_the_sandbox(tenant: Tenant) -> None:
    """Sandboxed, an environment is built by its app's uid from that app's own download
    cache, which its builds can write: another app with the same requirements gets one
    of its own, never one a tenant could have poisoned. Without the sandbox (one trust
    domain) apps share it."""
    network, app = tenant.new_app("first")
    tenant.deploy_ok(network, app, FILES)
    other = "second"
    assert tenant.api.http.post(f"/networks/{network}/apps", json={"name": other}).is_success
    release = tenant.deploy_ok(network, other, FILES)
    plan = tenant.build_lines(network, other, release["number"])[0]
    sandboxed = tenant.platform.isolation["mode"] != "none"
    assert ("new env" if sandboxed else "cached env") in plan, plan
    prefix = "python -c 'import sys; print(sys.prefix)'"
    first, second = (Path(tenant.command(network, a, prefix).out.strip()) for a in (app, other))
    assert (first != second) is sandboxed and first.is_dir()
    assert tenant.api.http.delete(f"/networks/{network}/apps/{app}").status_code < 300
    assert first.exists() is not sandboxed  # its area went with it: a later app gets its id
