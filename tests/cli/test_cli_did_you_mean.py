"""A mistyped network, app, var key, release number or context name: one line on stderr with a
did-you-mean (or the numbers there are) in the hint, and exit 4 (not found)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Rig, Run, single_error_line

NOT_FOUND = 4


@pytest.fixture
def shop(logged_in: Rig, tmp_path: Path) -> Rig:
    rig = logged_in
    rig.ok("create", "network", "shop")
    rig.ok("create", "network", "warehouse")
    rig.ok("create", "app", "billing", "--network", "shop")
    rig.ok("create", "var", "GREETING=hi", "--network", "shop", "--app", "billing")
    return rig


def not_found(run: Run) -> str:
    line = single_error_line(run)
    assert run.code == NOT_FOUND, str(run)
    return line


@pytest.mark.parametrize(
    "args",
    [
        ("details", "network", "shpo"),
        ("status", "network", "shpo"),
        ("logs", "network", "shpo"),
        ("list", "vars", "--network", "shpo"),
        ("create", "app", "web", "--network", "shpo"),
        ("delete", "network", "shpo", "--yes"),
        ("details", "app", "billing", "--network", "shpo"),
        ("command", "true", "--network", "shpo"),
        ("shell", "--network", "shpo"),
    ],
)
def test_a_mistyped_network_gets_a_suggestion(shop: Rig, args: tuple[str, ...]) -> None:
    line = not_found(shop(*args))
    assert "network 'shpo' not found" in line and "did you mean `shop`?" in line, line


def test_a_mistyped_app_gets_a_suggestion_with_or_without_its_network(shop: Rig) -> None:
    for args in [
        ("details", "app", "biling"),
        ("details", "app", "biling", "--network", "shop"),
        ("status", "app", "biling", "--network", "shop"),
        ("command", "true", "--app", "biling", "--network", "shop"),
        ("list", "vars", "--app", "biling", "--network", "shop"),
    ]:
        line = not_found(shop(*args))
        assert "'biling' not found" in line and "did you mean `billing`?" in line, line
    # A name close to nothing gets no guess, only the way to see them.
    line = not_found(shop("details", "network", "zzzzzz"))
    assert "did you mean" not in line and "rig list networks" in line


def test_a_mistyped_var_key_gets_a_suggestion(shop: Rig) -> None:
    run = shop("delete", "var", "GRETING", "--app", "billing", "--network", "shop", "--yes")
    line = not_found(run)
    assert "GRETING" in line and "did you mean `GREETING`?" in line, line
    assert "GREETING" in shop.ok("list", "vars", "--app", "billing", "--network", "shop").out


def test_an_unknown_release_number_says_which_there_are(shop: Rig, tmp_path: Path) -> None:
    line = not_found(shop("rollback", "--app", "billing", "--network", "shop", "--to", "7"))
    assert "release 7" in line and "billing has no releases yet" in line, line

    source = tmp_path / "site"
    source.mkdir()
    (source / "rig.toml").write_text('[processes]\nweb = "python -m http.server $PORT"\n')
    for _ in range(2):
        shop.ok("deploy", str(source), "--app", "billing", "--network", "shop", "--detach")
    line = not_found(shop("rollback", "--app", "billing", "--network", "shop", "--to", "7"))
    assert "release 7" in line and "billing has releases 1 to 2" in line, line
    line = not_found(shop("rollback", "--app", "biling", "--network", "shop", "--to", "7"))
    assert "did you mean `billing`?" in line, line


def test_a_mistyped_context_name_gets_a_suggestion(shop: Rig) -> None:
    for args in [
        ("context", "use", "defualt"),
        ("context", "delete", "defualt"),
        ("list", "networks", "--context", "defualt"),
        ("logout", "--context", "defualt"),
    ]:
        line = not_found(shop(*args))
        assert "no context named 'defualt'" in line and "did you mean `default`?" in line, line
    json_error = shop("context", "use", "defualt", "-o", "json").error_json()["error"]
    assert json_error["code"] == "not_found" and "did you mean `default`?" in json_error["hint"]
