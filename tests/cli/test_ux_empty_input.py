"""Issue 19, item 7: empty input is refused (exit 2, a hint), not taken as a choice."""

from __future__ import annotations

from tests.cli.test_cli_terminal import finish, spawn
from tests.support.cli import Rig


def test_empty_names_are_refused(logged_in: Rig) -> None:
    run = logged_in("create", "network", "")
    assert run.code == 2 and "must not be empty" in run.err and "hint:" in run.err, str(run)
    assert logged_in.ok("list", "networks", "-o", "json").json() == []

    logged_in.ok("create", "network", "shop")
    run = logged_in("create", "app", "", "--network", "shop")
    assert run.code == 2 and "must not be empty" in run.err, str(run)
    assert logged_in.ok("list", "apps", "--network", "shop", "-o", "json").json() == []


def test_empty_secret_from_stdin_needs_allow_empty(logged_in: Rig) -> None:
    logged_in.ok("create", "network", "shop")
    for args in (("secret", "TOKEN"), ("secret", "TOKEN", "-"), ("var", "LEVEL", "-")):
        run = logged_in("create", *args, "--network", "shop", input="")
        assert run.code == 2, str(run)
        assert "empty value for" in run.err and "--allow-empty" in run.err, run.err
    assert logged_in.ok("list", "secrets", "--network", "shop", "-o", "json").json() == []

    logged_in.ok("create", "secret", "TOKEN", "--network", "shop", "--allow-empty", input="")
    keys = [
        r["key"] for r in logged_in.ok("list", "secrets", "--network", "shop", "-o", "json").json()
    ]
    assert keys == ["TOKEN"]


def test_empty_secret_at_the_hidden_prompt_is_refused(logged_in: Rig) -> None:
    logged_in.ok("create", "network", "shop")
    child = spawn(logged_in, "create", "secret", "TOKEN", "--network", "shop")
    child.expect("Value for TOKEN: ")
    child.sendline("")
    child.expect("Repeat value for TOKEN: ")
    child.sendline("")
    code, rest = finish(child)
    assert code == 2 and "empty value for TOKEN" in rest and "--allow-empty" in rest, rest
    assert logged_in.ok("list", "secrets", "--network", "shop", "-o", "json").json() == []
