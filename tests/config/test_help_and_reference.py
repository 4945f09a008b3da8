"""Help for every command, did-you-mean, and the generated reference kept current."""

from __future__ import annotations

import subprocess
import sys

from rig.cli import build_parser
from rig.helpdoc import commands
from tests.support.cli import ROOT, Rig


def test_every_command_has_a_one_line_description_and_an_example() -> None:
    found = commands(build_parser())
    assert len(found) > 40
    for path, help, parser in found:
        assert help and "\n" not in help, path
        assert len(help) <= 100, f"{path}: the one-line help is too long"
        epilog = parser.epilog or ""
        assert "examples:" in epilog, f"{path} has no examples"
        examples = [line for line in epilog.splitlines()[1:] if line.strip()]
        assert examples and any(line.lstrip().startswith("rig ") for line in examples), path


def test_the_generated_reference_matches_the_parsers() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-reference"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    text = (ROOT / "docs" / "reference.md").read_text()
    for path, _, _ in commands(build_parser()):
        assert f"\n## rig {path}\n" in text


def test_mistyped_commands_get_a_suggestion(rig: Rig) -> None:
    run = rig("craete", "network", "x")
    assert run.code == 2 and "did you mean `create`?" in run.err
    run = rig("list", "aps")
    assert run.code == 2 and "did you mean `apps`?" in run.err
    assert "__complete" not in rig.ok("--help").out


def test_mistyped_app_names_get_a_suggestion(logged_in: Rig) -> None:
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "app", "billing", "--network", "shop")
    run = logged_in("details", "app", "biling")
    assert run.code == 4 and "did you mean `billing`?" in run.err, str(run)
