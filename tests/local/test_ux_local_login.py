"""Issue 19, item 10: logging in to the local platform is discoverable. ``rig local status``
names the admin and ``rig local login`` (never the password), ``rig local login`` logs in with
nothing typed, ``rig local user add`` prints the real login line, and after ``rig logout`` the
hint says exactly how to log in again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Rig, single_error_line


@pytest.fixture
def local(rig: Rig, tmp_path: Path) -> Iterator[tuple[Rig, Path]]:
    data = tmp_path / "local-data"
    rig.env["RIG_LOCAL_DATA"] = str(data)
    yield rig, data
    rig("local", "stop")


def test_status_says_how_to_log_in_without_the_password(local: tuple[Rig, Path]) -> None:
    rig, data = local
    rig.ok("local", "start", "--port", "0")
    password = json.loads((data / "bootstrap.json").read_text())["password"]
    status = rig.ok("local", "status", "-o", "json").json()
    assert (status["admin"], status["login"]) == (
        "admin@max.local",
        "rig local login --context local",
    )
    table = rig.ok("local", "status").out
    assert "rig local login --context local" in table and "admin@max.local" in table
    assert password not in table and password not in json.dumps(status)


def test_logout_then_log_in_again_as_the_hint_says(local: tuple[Rig, Path]) -> None:
    rig, _data = local
    rig.ok("local", "start", "--port", "0")
    out = rig.ok("logout").out
    assert "Log in again with `rig local login --context local`" in out, out
    run = rig("list", "networks")
    assert run.code == 3 and "rig local login --context local" in single_error_line(run)

    logged = rig.ok("local", "login", "--context", "local")
    assert "as admin@max.local (context local)" in logged.out, str(logged)
    assert rig.ok("whoami", "-o", "json").json()["email"] == "admin@max.local"


def test_user_add_prints_the_real_login_line(local: tuple[Rig, Path]) -> None:
    rig, _data = local
    url = rig.ok("local", "start", "--port", "0", "-o", "json").json()["url"]
    added = rig.ok("local", "user", "add", "dev@example.com")
    token = added.out.splitlines()[1]
    line = f"rig login --api {url} --token {token}"
    assert f"Log in with: {line}" in added.out, added.out
    rig.ok(*line.split()[1:])
    assert rig.ok("whoami", "-o", "json").json()["email"] == "dev@example.com"


def test_local_login_without_a_platform_says_how_to_start_one(local: tuple[Rig, Path]) -> None:
    rig, _data = local
    run = rig("local", "login")
    assert run.code == 1 and "rig local start" in single_error_line(run), str(run)
