"""Releases that cannot be built fail clearly, through the real ``rig deploy``: one line
naming the step and the cause, exit 1, and the previous release still serving. What the
plan already shows cannot work (no start command, no such Python, a broken package.json)
is refused before anything is uploaded; the platform refuses it too when it is uploaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builds.conftest import Tenant
from tests.deploy.conftest import routed
from tests.support.cli import Run

GOOD: dict[str, str] = {"index.html": "<h1>good</h1>\n"}


def deploy_dir(tenant: Tenant, root: Path, files: dict[str, str], network: str, app: str) -> Run:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return tenant.rig("deploy", str(root), "--app", app, "--network", network)


@pytest.mark.parametrize(
    ("files", "words"),
    [
        pytest.param(
            {"requirements.txt": "rig-no-such-package-8c1f2e==1.0\n", "app.py": ""},
            ["failed during build: step 'install dependencies' failed with exit code"],
            marks=pytest.mark.network,
            id="unresolvable-requirement",
        ),
        pytest.param(
            {"package.json": '{"name": "x", "scripts": {', "index.js": ""},
            ["would fail to build: package.json is not valid JSON"],
            id="package-json-syntax-error",
        ),
        pytest.param(
            {"requirements.txt": "", ".python-version": "3.99\n", "app.py": ""},
            ["would fail to build: Python 3.99 (.python-version) is not on this machine; "],
            id="unavailable-python",
        ),
        pytest.param(
            {"notes.txt": "nothing runnable"},
            ["would fail to build: no start command found: looked for a Procfile, [processes]"],
            id="no-start-command",
        ),
        pytest.param(
            {"rig.toml": 'build = "echo working; sleep 600"\nbuild_timeout = 2\n',
             "index.html": ""},
            ["failed during build: step 'build (rig.toml)' timed out"],
            id="hanging-build",
        ),
    ],
)  # fmt: skip
def test_a_bad_release_fails_naming_its_step_and_the_previous_one_serves(
    tenant: Tenant, tmp_path: Path, files: dict[str, str], words: list[str]
) -> None:
    network, app = tenant.new_app("app")
    tenant.deploy_ok(network, app, {**GOOD})
    run = deploy_dir(tenant, tmp_path / "bad", files, network, app)
    assert run.code == 1, str(run)
    assert "Traceback" not in run.err
    error = [line for line in run.err.splitlines() if line.startswith("rig: ")]
    assert len(error) == 1, str(run)
    for word in words:
        assert word in error[0], str(run)
    assert "(hint: " in error[0]
    assert routed(tenant.platform, network, app).text == GOOD["index.html"]
    releases = tenant.api.http.get(f"/networks/{network}/apps/{app}/releases").json()
    uploaded = "would fail to build" not in error[0]
    assert len(releases) == (2 if uploaded else 1)


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"notes.txt": "nothing runnable"}, "no start command found: looked for "),
        ({"package.json": '{"name": "x", "scripts": {', "index.js": ""},
         "package.json is not valid JSON: "),
        ({"requirements.txt": "", ".python-version": "3.99\n", "app.py": ""},
         "Python 3.99 (.python-version) is not on this machine; available: "),
    ],
    ids=["no-start-command", "package-json-syntax-error", "unavailable-python"],
)  # fmt: skip
def test_an_uploaded_release_the_plan_refuses_fails_its_build(
    tenant: Tenant, files: dict[str, str | bytes], reason: str
) -> None:
    """What the client refuses before uploading, the platform refuses when it gets it anyway
    (an older rig, or the API used directly): failed in its build, the previous one serving."""
    network, app = tenant.new_app("app")
    tenant.deploy_ok(network, app, {**GOOD})
    release = tenant.deploy(network, app, files)
    assert release["status"] == "failed"
    assert release["error"]["phase"] == "build"
    assert release["error"]["reason"].startswith(reason)
    assert routed(tenant.platform, network, app).text == GOOD["index.html"]
