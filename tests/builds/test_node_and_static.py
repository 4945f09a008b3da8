"""An Express app with a package-lock.json (real ``npm ci`` against the registry) and a
static site, with no Procfile and no rig.toml: each deploys and serves through the router,
with a ``python3`` of its own, and leaves rig's own environment as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builds.conftest import Tenant, freeze, package_json
from tests.deploy.conftest import routed

SERVER_JS = """\
const express = require("express");
const app = express();
const version = require("express/package.json").version;
app.get("/", (req, res) => res.send(`hello from express ${version}\\n`));
app.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening"));
"""


@pytest.fixture(scope="session")
def express_lock(build_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """package.json and the package-lock.json npm makes for it (once per run)."""
    root = tmp_path_factory.mktemp("express")
    (root / "package.json").write_text(
        package_json(dependencies={"express": "4.21.2"}, scripts={"start": "node server.js"})
    )
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(root),
        "npm_config_cache": str(build_cache / "npm"),
        "NODE_OPTIONS": "--use-openssl-ca",
        **{k: v for k, v in os.environ.items() if k.lower().endswith("_proxy")},
    }
    subprocess.run(
        ["npm", "install", "--package-lock-only", "--no-audit", "--no-fund"],
        cwd=root, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return {name: (root / name).read_text() for name in ("package.json", "package-lock.json")}


def not_riggy(tenant: Tenant, network: str, app: str) -> None:
    """The app's ``python3`` is its release's own, not the one rig runs from."""
    which = tenant.command(network, app, "which python3")
    assert which.out.strip().endswith(".venv/bin/python3"), str(which)
    assert not which.out.startswith(sys.prefix)


def machine_has_express(tmp_path: Path) -> bool:
    """Whether node finds an express of the machine's own (a global install) outside any app."""
    run = subprocess.run(
        ["node", "-e", "require.resolve('express')"], cwd=tmp_path, capture_output=True,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    return run.returncode == 0


@pytest.mark.network
def test_an_express_app_with_a_lock_deploys_with_npm_ci(
    tenant: Tenant, express_lock: dict[str, str], tmp_path: Path
) -> None:
    assert not machine_has_express(tmp_path), "the app must not be able to use the machine's"
    before = freeze()
    network, app = tenant.new_app("express")
    files: dict[str, str | bytes] = {**express_lock, "server.js": SERVER_JS}
    release = tenant.deploy_ok(network, app, files)
    assert routed(tenant.platform, network, app).text == "hello from express 4.21.2\n"
    not_riggy(tenant, network, app)
    assert freeze() == before
    log = tenant.build_lines(network, app, release["number"])
    assert "from package-lock.json" in log[0] and "web: npm start" in log[0]
    assert any(line.startswith("step 'npm ci': ") for line in log)
    assert not any("Unknown env config" in line for line in log), log  # pnpm's store-dir
    run = tenant.command(network, app, "node -p 'require(\"express/package.json\").version'")
    assert run.out == "4.21.2\n", str(run)

    again = tenant.deploy_ok(network, app, {**files, "README": "v2"})
    log = tenant.build_lines(network, app, again["number"])
    assert "cached modules" in log[0]
    assert not any(line.startswith("step 'npm ci'") for line in log)


@pytest.mark.network
def test_npm_install_without_a_lock_and_npm_run_build(tenant: Tenant) -> None:
    """No lock: ``npm install``; a build script runs after it, in the release."""
    network, app = tenant.new_app("built")
    package = package_json(
        dependencies={"ms": "2.1.3"},
        scripts={
            "build": "node build.js",
            "start": "node server.js",
        },
    )
    server = (
        "require('http').createServer((q, s) => s.end(require('fs').readFileSync('built.txt')))"
        ".listen(Number(process.env.PORT), '127.0.0.1');\n"
    )
    build = "require('fs').writeFileSync('built.txt', String(require('ms')('1h')));\n"
    files: dict[str, str | bytes] = {"package.json": package, "server.js": server}
    files["build.js"] = build
    release = tenant.deploy_ok(network, app, files)
    assert routed(tenant.platform, network, app).text == "3600000"
    log = tenant.build_lines(network, app, release["number"])
    assert any(line.startswith("step 'npm install': ") for line in log)
    assert any(line.startswith("step 'npm run build': ") for line in log)


def test_a_static_site_is_served_by_the_platform(tenant: Tenant) -> None:
    before = freeze()
    network, app = tenant.new_app("site")
    files: dict[str, str | bytes] = {
        "index.html": "<h1>welcome</h1>\n",
        "css/site.css": "h1 { color: red }\n",
    }
    release = tenant.deploy_ok(network, app, files)
    assert routed(tenant.platform, network, app).text == "<h1>welcome</h1>\n"
    assert routed(tenant.platform, network, app, "/css/site.css").text == "h1 { color: red }\n"
    log = tenant.build_lines(network, app, release["number"])
    assert log[0].startswith("plan: static site served by the platform; web: ")
    not_riggy(tenant, network, app)
    assert freeze() == before
