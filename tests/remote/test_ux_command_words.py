"""Issue 19, item 6: ``rig command --app X -- ls -la`` runs ``ls -la``, each word after ``--``
kept as one (as ``rig run -- CMD ARGS``), where argparse refused "-la"."""

from __future__ import annotations

from tests.remote.conftest import RemotePlatform

APP = ("--app", "api", "--network", "shop")


def test_words_after_a_double_dash_are_the_command(remote: RemotePlatform) -> None:
    run = remote.rig("command", *APP, "--", "ls", "-la")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("total ") and " marker.txt\n" in run.stdout, run.stdout
    run = remote.rig("command", *APP, "--", "printf", "%s|", "two  spaces", "$HOME")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "two  spaces|$HOME|"


def test_one_argument_is_still_a_shell_line(remote: RemotePlatform) -> None:
    run = remote.rig("command", "echo a | tr a b", *APP)
    assert (run.returncode, run.stdout) == (0, "b\n"), run.stderr
