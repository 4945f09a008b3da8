"""Prompts on a real terminal (pexpect): login, a hidden secret, delete confirmation."""

from __future__ import annotations

from tests.support.cli import Rig
from tests.support.cli import finished as finish
from tests.support.cli import on_terminal as spawn
from tests.support.platform import Platform

SECRET = "typed-secret-value-77"


def test_login_prompts_for_email_and_hidden_password(
    rig: Rig, shared_platform: Platform, new_login: dict[str, str]
) -> None:
    creds = new_login
    child = spawn(rig, "login", "--api", shared_platform.url)
    child.expect("Email: ")
    child.sendline(creds["email"])
    child.expect("Password: ")
    child.sendline(creds["password"])
    code, rest = finish(child)
    assert code == 0, rest
    assert creds["password"] not in rest  # not echoed
    assert f"as {creds['email']}" in rest


def test_secret_prompt_and_delete_confirmation(logged_in: Rig) -> None:
    logged_in.ok("create", "network", "shop")
    child = spawn(logged_in, "create", "secret", "TOKEN", "--network", "shop")
    child.expect("Value for TOKEN: ")
    child.sendline(SECRET)
    child.expect("Repeat value for TOKEN: ")
    child.sendline(SECRET + "typo")
    code, rest = finish(child)
    assert code == 2 and "differ" in rest and SECRET not in rest

    child = spawn(logged_in, "create", "secret", "TOKEN", "--network", "shop")
    child.expect("Value for TOKEN: ")
    child.sendline(SECRET)
    child.expect("Repeat value for TOKEN: ")
    child.sendline(SECRET)
    code, rest = finish(child)
    assert code == 0 and SECRET not in rest
    digest = logged_in.ok("list", "secrets", "--network", "shop", "-o", "json").json()[0]["digest"]
    logged_in.ok("create", "secret", "CHECK", "--network", "shop", input=SECRET)
    rows = logged_in.ok("list", "secrets", "--network", "shop", "-o", "json").json()
    assert {r["key"]: r["digest"] for r in rows}["CHECK"] == digest

    child = spawn(logged_in, "delete", "secret", "TOKEN", "--network", "shop")
    child.expect(r"Delete 1 secret from network shop: TOKEN\? \[y/N\] ")
    child.sendline("n")
    code, rest = finish(child)
    assert code == 1 and "cancelled" in rest

    child = spawn(logged_in, "delete", "secret", "TOKEN", "--network", "shop")
    child.expect(r"\[y/N\] ")
    child.sendline("y")
    code, rest = finish(child)
    assert code == 0, rest
    assert [
        r["key"] for r in logged_in.ok("list", "secrets", "--network", "shop", "-o", "json").json()
    ] == ["CHECK"]
