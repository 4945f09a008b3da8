"""The shell in-process: history masking on disk, and one-shot start-up never importing it
(nor anything else it does not use: the benchmarks in bench/ time what this keeps lean)."""

from __future__ import annotations

import io
import lzma
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rig.repl.history import MASK
from rig.repl.shell import RigShell, run_script
from tests.support.cli import Rig

SHELL_MODULES = ("cmd2", "prompt_toolkit", "rig.repl")
# Never on a one-shot path: the shell's libraries, the platform, httpx (uploads only, and its
# CLI pulls in rich and click); tabulate is for tables, not JSON.
UNUSED_ONE_SHOT = (*SHELL_MODULES, "rich", "click", "maxlocal", "httpx", "tabulate")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RIG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("RIG_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RIG_CREDENTIAL_STORE", "file")
    for name in ("RIG_CONTEXT", "RIG_API", "RIG_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_history_on_disk_never_holds_secret_values(env: Path) -> None:
    history = env / "state" / "history"
    out = io.StringIO()
    shell = RigShell(
        stdin=io.StringIO(), stdout=out, stderr=out, history_file=str(history), background=False
    )
    for line in ["create secret DB hunter2 --app api", "login --token mxt_topsecret", "list apps"]:
        shell.onecmd_plus_hooks(line)
    shell.main_session.history.append_string("create secret DB hunter2")
    shell._persist_history()
    text = lzma.decompress(history.read_bytes()).decode()
    assert "hunter2" not in text and "mxt_topsecret" not in text
    assert f"create secret DB {MASK} --app api" in text and "list apps" in text
    assert history.stat().st_mode & 0o777 == 0o600
    assert all("hunter2" not in s for s in shell.main_session.history.get_strings())
    assert "not logged in" in out.getvalue()


@pytest.mark.parametrize("argv", [["--version"], ["list", "networks"], ["--help"]])
def test_one_shot_never_imports_the_shell(argv: list[str], env: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rig", *argv],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
    )
    assert not leaked_modules(proc.stderr)


def leaked_modules(importtime: str) -> list[str]:
    """The modules in ``-X importtime`` output that a one-shot command must not import."""
    imported = {line.rsplit("|", 1)[-1].strip() for line in importtime.splitlines() if "|" in line}
    assert imported, importtime
    return sorted(m for m in imported if m.startswith(UNUSED_ONE_SHOT))


def test_one_shot_api_command_imports_only_what_it_uses(logged_in: Rig) -> None:
    run = logged_in("list", "apps", "-o", "json", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert run.code == 0, str(run)
    assert run.json() == []
    assert not leaked_modules(run.err)


def test_a_script_stops_at_a_line_with_an_open_quote(env: Path) -> None:
    """cmd2 printed "Invalid syntax" and went on with exit code 0; a piped script stops
    there with rig's one-line error and exit 2, as at any other failing line."""
    out = io.StringIO()
    shell = RigShell(stdin=io.StringIO(), stdout=out, stderr=out, background=False)
    code = run_script(shell, ["# a comment", "", 'help "fg', "help fg"])
    assert code == 2
    assert out.getvalue().splitlines() == [
        "rig: invalid syntax: No closing quotation (hint: close the quotation, or write a lone "
        "quote as \\' or \\\")",
        'rig: stopped at line 3 (exit 2): help "fg',
    ]
