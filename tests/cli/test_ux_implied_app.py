"""Issue 19, item 3: one-shot ``rig status``, ``rig logs`` and ``rig details`` with no resource
word mean the project's app (rig.toml, or RIG_APP), as they mean the selection's in the shell;
with nothing named they say how to name one (exit 2), not argparse's "required: COMMAND"."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Rig, single_error_line


def test_a_project_names_the_app(hello: Rig, tmp_path: Path) -> None:
    (tmp_path / "rig.toml").write_text('[app]\nname = "hello"\nnetwork = "shop"\n')
    sub = tmp_path / "src"
    sub.mkdir()
    status = hello.ok("status", "-o", "json", cwd=sub).json()
    assert (status["app"], status["network"]) == ("hello", "shop")
    assert hello.ok("details", "-o", "json", cwd=sub).json()["name"] == "hello"
    assert "app hello (network shop)" in hello.ok("logs", "--tail", "5", cwd=sub).out
    # Options before the missing resource word are the app command's.
    assert hello.ok("status", "--network", "shop", "-o", "json", cwd=sub).json()["app"] == "hello"


def test_rig_app_and_rig_network_name_it(hello: Rig, tmp_path: Path) -> None:
    run = hello.ok("status", "-o", "json", env={"RIG_APP": "hello"}, cwd=tmp_path)
    assert run.json()["app"] == "hello"
    run = hello.ok("status", "-o", "json", env={"RIG_NETWORK": "shop"}, cwd=tmp_path)
    assert run.json()["network"] == "shop" and [a["app"] for a in run.json()["apps"]] == ["hello"]


@pytest.mark.parametrize("word", ["status", "logs", "details"])
def test_outside_a_project_it_says_how_to_name_one(rig: Rig, tmp_path: Path, word: str) -> None:
    run = rig(word, cwd=tmp_path)
    line = single_error_line(run)
    assert run.code == 2, str(run)
    assert f"`rig {word}` needs to know which app or network" in line
    assert f"`rig {word} app`" in line and "rig.toml" in line and "RIG_APP" in line, line
