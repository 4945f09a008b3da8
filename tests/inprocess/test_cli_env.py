"""Vars and secrets: every way to give values, inheritance, deletion, and secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import single_error_line
from tests.support.inprocess import InProcessRig as Rig

SECRET = "s3cr3t-Value-zebra-42"


@pytest.fixture
def shop(user_rig: Rig) -> Rig:
    user_rig.ok("create", "network", "shop")
    user_rig.ok("create", "app", "api", "--network", "shop")
    return user_rig


def env_of(rig: Rig, kind: str, *scope: str) -> dict[str, tuple[str, str]]:
    rows = rig.ok("list", kind, *scope, "-o", "json").json()
    field = "digest" if kind == "secrets" else "value"
    return {r["key"]: (r[field], r["source"]) for r in rows}


def test_vars_every_way(shop: Rig, tmp_path: Path) -> None:
    shop.ok("create", "var", "LOG_LEVEL", "debug", "--network", "shop")
    shop.ok("create", "var", "A=1", "B=two words", "EMPTY=", "--network", "shop")
    env_file = tmp_path / "app.env"
    env_file.write_text(
        '# comment\nexport LOG_LEVEL=info\nGREETING="hello\\nworld"\n'
        "MULTI='line one\nline two'\nURL=https://x.example/?a=b # trailing comment\n"
    )
    run = shop.ok("create", "var", "--from-file", str(env_file), "--app", "api")
    assert run.out.strip() == (
        "Set 4 vars on app api (network shop): LOG_LEVEL, GREETING, MULTI, URL"
    )
    shop.ok("create", "var", "PIPED", "-", "--app", "api", input="from stdin\n")
    assert env_of(shop, "vars", "--app", "api") == {
        "A": ("1", "network"),
        "B": ("two words", "network"),
        "EMPTY": ("", "network"),
        "GREETING": ("hello\nworld", "app"),
        "LOG_LEVEL": ("info", "app"),
        "MULTI": ("line one\nline two", "app"),
        "PIPED": ("from stdin", "app"),
        "URL": ("https://x.example/?a=b", "app"),
    }
    rows = shop.ok("list", "vars", "--app", "api", "-o", "json").json()
    assert {r["key"]: r["overrides"] for r in rows}["LOG_LEVEL"] is True
    table = shop.ok("list", "vars", "--app", "api").out
    assert "hello\\nworld" in table and "OVERRIDES" in table


def test_var_bad_input(shop: Rig, tmp_path: Path) -> None:
    cases = [
        ("create", "var", "9KEY", "v", "--app", "api"),
        ("create", "var", "PORT=80", "--app", "api"),
        ("create", "var", "KEY", "--app", "api"),
        ("create", "var", "A", "b", "c", "--app", "api"),
        ("create", "var", "A=1", "B", "--app", "api"),
        ("create", "var", "--app", "api"),
        ("create", "var", "A=1"),
        ("create", "var", "--from-file", str(tmp_path / "missing.env"), "--app", "api"),
    ]
    for args in cases:
        run = shop(*args)
        assert run.code == 2, str(run)
        single_error_line(run)
    bad = tmp_path / "bad.env"
    bad.write_text('OK=1\nBROKEN="never closed\n')
    run = shop("create", "var", "--from-file", str(bad), "--app", "api")
    assert run.code == 2 and "line 2" in single_error_line(run)
    assert env_of(shop, "vars", "--app", "api") == {}


def test_secrets_every_way(shop: Rig, tmp_path: Path) -> None:
    shop.ok("create", "secret", "DB_PASSWORD", "--app", "api", input=SECRET + "\n")
    shop.ok("create", "secret", "API_KEY", "-", "--network", "shop", input=SECRET + "x")
    shop.ok("create", "secret", "INLINE", SECRET + "y", "--app", "api")
    shop.ok("create", "secret", "BULK1=" + SECRET + "z", "BULK2=b", "--app", "api")
    secrets_file = tmp_path / ".env.secrets"
    secrets_file.write_text(f'FROM_FILE="{SECRET}"\n')
    shop.ok("create", "secret", "--from-file", str(secrets_file), "--app", "api")
    shop.ok("create", "secret", "--from-file", "-", "--app", "api", input=f"PIPED={SECRET}\n")
    secrets = env_of(shop, "secrets", "--app", "api")
    assert set(secrets) == {
        "API_KEY",
        "BULK1",
        "BULK2",
        "DB_PASSWORD",
        "FROM_FILE",
        "INLINE",
        "PIPED",
    }
    assert secrets["API_KEY"][1] == "network"
    # Same value, same digest: stdin lost its trailing newline, the file its quotes.
    assert secrets["DB_PASSWORD"][0] == secrets["FROM_FILE"][0] == secrets["PIPED"][0]
    before = secrets["BULK2"][0]
    shop.ok("create", "secret", "BULK2=changed", "--app", "api")
    assert env_of(shop, "secrets", "--app", "api")["BULK2"][0] != before


def test_secret_values_appear_nowhere(shop: Rig) -> None:
    outputs = [
        shop.ok("create", "secret", "DB_PASSWORD", "--app", "api", "-v", input=SECRET),
        shop.ok(
            "create", "secret", "NET_SECRET=" + SECRET, "--network", "shop", "-v", "-o", "json"
        ),
    ]
    for args in (
        ("list", "secrets", "--app", "api"),
        ("list", "secrets", "--network", "shop"),
        ("details", "app", "api"),
        ("details", "network", "shop"),
    ):
        outputs.append(shop.ok(*args, "-v"))
        outputs.append(shop.ok(*args, "-v", "-o", "json"))
    for run in outputs:
        assert SECRET not in run.out and SECRET not in run.err, str(run)
    assert "DB_PASSWORD" in outputs[2].out
    assert "rig: GET " in outputs[2].err  # -v did log the requests
    # A bad key next to a secret value: the message names the key, never the value.
    run = shop("create", "secret", "bad-key=" + SECRET, "--app", "api")
    assert run.code == 2 and SECRET not in run.err
    run = shop("create", "secret", "KEY", SECRET, "extra", "--app", "api")
    assert run.code == 2 and SECRET not in run.err


def test_var_and_secret_cannot_share_a_key(shop: Rig) -> None:
    shop.ok("create", "var", "SHARED=1", "--app", "api")
    run = shop("create", "secret", "SHARED=2", "--app", "api")
    assert run.code == 1
    single_error_line(run)


def test_delete_vars_and_secrets(shop: Rig) -> None:
    shop.ok("create", "var", "A=1", "B=2", "--app", "api")
    shop.ok("create", "var", "NET=1", "--network", "shop")
    shop.ok("create", "secret", "S=x", "--app", "api")
    run = shop("delete", "var", "A", "NOPE", "--app", "api", "--yes")
    assert run.code == 4 and "NOPE" in single_error_line(run)
    assert set(env_of(shop, "vars", "--app", "api")) == {"A", "B", "NET"}  # nothing deleted
    run = shop("delete", "var", "NET", "--app", "api", "--yes")
    assert run.code == 4 and "--network shop" in single_error_line(run)
    run = shop("delete", "var", "A", "--app", "api")
    assert run.code == 2 and "--yes" in single_error_line(run)
    run = shop("delete", "var", "bad-key", "--app", "api", "--yes")
    assert run.code == 2
    deleted = shop.ok("delete", "var", "A", "B", "--app", "api", "--yes", "-o", "json").json()
    assert deleted == {"network": "shop", "app": "api", "deleted": ["A", "B"]}
    shop.ok("delete", "var", "NET", "--network", "shop", "--yes")
    assert env_of(shop, "vars", "--app", "api") == {}
    shop.ok("delete", "secret", "S", "--app", "api", "--yes")
    assert env_of(shop, "secrets", "--app", "api") == {}


def test_scope_is_required(shop: Rig) -> None:
    run = shop("list", "vars")
    assert run.code == 2 and "--app" in single_error_line(run)
    run = shop("list", "secrets", "--network", "nowhere")
    assert run.code == 4
