"""Issue 19, item 6: arguments alike across commands. ``--app``/``--network`` wherever the app
or network is a positional NAME; ``list app`` as ``list apps``; a mistyped option gets a
did-you-mean; a usage error points at the command's own ``--help``."""

from __future__ import annotations

from tests.support.cli import Rig, single_error_line


def test_app_and_network_as_options_where_they_are_a_name(hello: Rig) -> None:
    assert hello.ok("status", "app", "--app", "hello", "-o", "json").json()["app"] == "hello"
    assert hello.ok("details", "app", "--app", "hello", "-o", "json").json()["name"] == "hello"
    assert "app hello (network shop)" in hello.ok("logs", "app", "--app", "hello").out
    assert "build log of app hello" in hello.ok("logs", "build", "--app", "hello").out
    assert hello.ok("status", "--app", "hello", "-o", "json").json()["app"] == "hello"
    network = hello.ok("status", "network", "--network", "shop", "-o", "json").json()
    assert network["network"] == "shop"
    assert hello.ok("details", "--network", "shop", "-o", "json").json()["name"] == "shop"


def test_a_name_and_another_option_are_refused(hello: Rig) -> None:
    run = hello("status", "app", "hello", "--app", "other")
    line = single_error_line(run)
    assert run.code == 2 and "two apps named: 'hello' and --app 'other'" in line, line


def test_list_takes_the_singular(hello: Rig) -> None:
    assert [a["name"] for a in hello.ok("list", "app", "-o", "json").json()] == ["hello"]
    assert [n["name"] for n in hello.ok("list", "-o", "json", "network").json()] == ["shop"]


def test_a_mistyped_option_gets_a_did_you_mean_and_the_commands_help(hello: Rig) -> None:
    run = hello("logs", "app", "hello", "--folow")
    line = single_error_line(run)
    assert run.code == 2, str(run)
    assert "unrecognized arguments: --folow" in line
    assert "did you mean `--follow`?" in line and "`rig logs app --help`" in line, line
    run = hello("status", "app", "hello", "--bogus")  # near no option: no guess
    assert single_error_line(run).endswith("(hint: see `rig status app --help`)"), str(run)
    run = hello("status", "app", "hello", "extra")
    assert "see `rig status app --help`" in single_error_line(run) and run.code == 2
    run = hello("command", "--app", "hello", "--timout", "5s", "true")
    line = single_error_line(run)
    assert "did you mean `--timeout`?" in line and "`rig command --help`" in line, line
