"""A second user sees and touches none of the first user's resources; every command speaks JSON."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import Rig


@pytest.fixture
def owned(logged_in: Rig) -> Rig:
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "app", "api", "--network", "shop")
    logged_in.ok("create", "var", "A=1", "--app", "api")
    logged_in.ok("create", "secret", "S=hidden", "--app", "api")
    return logged_in


def test_second_user_cannot_see_or_change(owned: Rig, second_user: Rig) -> None:
    assert second_user.ok("whoami", "-o", "json").json()["email"] == second_user.user["email"]
    assert second_user.ok("list", "networks", "-o", "json").json() == []
    assert second_user.ok("list", "apps", "-o", "json").json() == []
    attempts = [
        ("details", "network", "shop"),
        ("details", "app", "api"),
        ("details", "app", "api", "--network", "shop"),
        ("list", "vars", "--app", "api", "--network", "shop"),
        ("list", "secrets", "--network", "shop"),
        ("create", "app", "evil", "--network", "shop"),
        ("create", "var", "A=2", "--app", "api", "--network", "shop"),
        ("create", "secret", "S=2", "--network", "shop"),
        ("delete", "var", "A", "--app", "api", "--network", "shop", "--yes"),
        ("delete", "app", "api", "--network", "shop", "--yes"),
        ("delete", "network", "shop", "--force", "--yes"),
    ]
    for args in attempts:
        run = second_user(*args)
        assert run.code == 4, str(run)
    app = owned.ok("details", "app", "api", "-o", "json").json()
    assert [(v["key"], v["value"]) for v in app["vars"]] == [("A", "1")]
    assert [a["name"] for a in owned.ok("list", "apps", "-o", "json").json()] == ["api"]


def test_every_command_prints_one_json_document(owned: Rig) -> None:
    commands = [
        ("whoami",),
        ("context", "list"),
        ("list", "contexts"),
        ("context", "use", "default"),
        ("create", "network", "blog"),
        ("create", "app", "web", "--network", "blog"),
        ("list", "networks"),
        ("list", "apps"),
        ("list", "apps", "--network", "blog"),
        ("create", "var", "K", "v", "--network", "blog"),
        ("create", "secret", "T=x", "--app", "web"),
        ("list", "vars", "--app", "web"),
        ("list", "secrets", "--app", "web"),
        ("details", "app", "web"),
        ("details", "network", "blog"),
        ("delete", "var", "K", "--network", "blog", "--yes"),
        ("delete", "secret", "T", "--app", "web", "--yes"),
        ("delete", "app", "web", "--yes"),
        ("delete", "network", "blog", "--yes"),
        ("logout",),
        ("logout",),
        ("context", "delete", "default"),
    ]
    for args in commands:
        run = owned.ok(*args, "-o", "json")
        document = json.loads(run.out)  # exactly one document, or this raises
        assert isinstance(document, (dict, list)), str(run)
        if args[0] == "list" or args[:2] == ("context", "list"):
            assert isinstance(document, list), str(run)
    # Errors under -o json: the error document on stderr, nothing on stdout.
    run = owned("list", "networks", "-o", "json")
    assert run.code == 3 and run.out == ""
    assert set(run.error_json()["error"]) == {"code", "message", "hint"}
    run = owned("create", "network", "-o", "json", "--bogus")
    assert run.code == 2 and run.error_json()["error"]["code"] == "invalid_request"
