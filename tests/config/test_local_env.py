"""`rig env pull` and `rig run` against a real platform: vars travel; secrets only into
`rig run --with-secrets`'s command, once confirmed, and never into a file or rig's output."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from rig import dotenv
from tests.support.cli import Rig

SECRET = "pa55-word-never-here"


@pytest.fixture
def api(logged_in: Rig) -> Rig:
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "app", "api", "--network", "shop")
    logged_in.ok("create", "var", "REGION=eu", "--network", "shop")
    logged_in.ok("create", "var", "GREETING=hello\nworld", 'QUOTE=say "hi"', "--app", "api")
    logged_in.ok("create", "secret", "DB_PASSWORD", SECRET, "--app", "api")
    return logged_in


def test_env_pull_writes_vars_only(api: Rig, tmp_path: Path) -> None:
    target = tmp_path / ".env"
    run = api.ok("env", "pull", "--app", "api", str(target))
    assert "Wrote 3 vars of app api (network shop)" in run.out and "1 secret left out" in run.out
    text = target.read_text()
    assert SECRET not in text and "DB_PASSWORD" in text.splitlines()[1]
    assert dotenv.parse(text) == {"GREETING": "hello\nworld", "QUOTE": 'say "hi"', "REGION": "eu"}
    shown = api.ok("env", "pull", "--network", "shop", "-").out
    assert dotenv.parse(shown) == {"REGION": "eu"}
    api.ok("env", "pull", "--force", cwd=tmp_path, env={"RIG_APP": "api"})  # .env exists
    assert dotenv.parse((tmp_path / ".env").read_text())["REGION"] == "eu"


def test_run_passes_vars_and_exit_code(api: Rig, tmp_path: Path) -> None:
    script = "import os, sys; print(os.environ['GREETING'].replace(chr(10), '|'), "
    script += "os.environ.get('DB_PASSWORD')); sys.exit(7)"
    run = api("run", "--app", "api", "--", sys.executable, "-c", script)
    assert run.code == 7, str(run)
    assert run.out.strip() == "hello|world None"
    missing = api("run", "--app", "api", "--", "no-such-command-xyz")
    assert missing.code == 127 and "command not found: no-such-command-xyz" in missing.err
    not_executable = tmp_path / "script.sh"
    not_executable.write_text("echo hi\n")
    refused = api("run", "--app", "api", "--", str(not_executable))
    assert refused.code == 126 and "permission denied" in refused.err, str(refused)
    assert api("run", "--app", "api").code == 2


def test_run_with_secrets_asks_first_and_the_reveal_is_audited(api: Rig) -> None:
    # the command shows a digest of what it got: no secret in its argv or output either
    got = "os.environ.get('DB_PASSWORD', '').encode()"
    script = f"import hashlib, os; print(hashlib.sha256({got}).hexdigest())"
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    command = ["run", "--app", "api", "--with-secrets", "--", sys.executable, "-c", script]
    refused = api(*command)  # no terminal to ask on, and no --yes
    assert refused.code == 2 and "without confirmation" in refused.err and "--yes" in refused.err
    assert not [r for r in api.ok("audit", "-o", "json").json() if r["kind"] == "reveal"]
    run = api.ok(*command[:4], "--yes", *command[4:])
    assert run.out.strip() == digest  # the value reached the command
    assert SECRET not in run.out + run.err
    trail = [r for r in api.ok("audit", "-o", "json").json() if r["kind"] == "reveal"]
    assert [(r["app"], r["command"]) for r in trail] == [("api", "reveal secrets DB_PASSWORD")]
    assert SECRET not in api.ok("audit").out
    without = api.ok("run", "--app", "api", "--", sys.executable, "-c", script)
    assert without.out.strip() == hashlib.sha256(b"").hexdigest()
