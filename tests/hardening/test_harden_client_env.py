"""Issue 15, findings 14 and 15: an app's vars on this machine.

14. ``rig env pull`` wrote values in double quotes: sourcing the file ran the command
    substitutions an app's var held. Now every value is single-quoted for POSIX sh, so
    ``set -a; . ./.env`` gives back each value byte for byte; an existing file is replaced
    only with ``--force``.
15. ``rig run`` let an app's vars replace ``PATH``, ``LD_PRELOAD``, ``PYTHONPATH``... of the
    user's own machine; now it refuses them unless each is named with ``--allow-var``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import Rig, single_error_line

HOSTILE = {
    "SUBST": "$(touch {marker})",
    "TICKS": "`touch {marker}`",
    "QUOTES": "it's \"quoted\" 'twice' \\' \\\" \\\\",
    "LINES": "first\nsecond\n\nfourth\n",
    "DOLLARS": "$HOME ${HOME} $0 $$ $1",
    "MIXED": "'$(touch {marker})' \"`touch {marker}`\" \\$(x) ; exit 3 # no comment",
    "CLOSE": "'",
    "EMPTYISH": " leading and trailing blanks ",
    "UNICODE": "caf\u00e9 \u2603 tab\there",
}


@pytest.fixture
def shop(logged_in: Rig) -> Rig:
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "app", "api", "--network", "shop")
    return logged_in


def sourced(env_file: Path, keys: list[str]) -> dict[str, str]:
    """The values a real ``sh`` gets from ``set -a; . FILE``, each read back as raw bytes."""
    script = (
        "set -a; . ./"
        + env_file.name
        + "\n"
        + "".join(f"printf '%s\\0' \"${key}\"\n" for key in keys)
    )
    out = subprocess.run(
        ["sh", "-c", script], cwd=env_file.parent, capture_output=True, check=True, timeout=30
    ).stdout
    return dict(zip(keys, out.decode().split("\0")[:-1], strict=True))


def test_sourcing_a_pulled_env_file_runs_nothing_and_gives_back_every_byte(
    shop: Rig, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    values = {key: value.replace("{marker}", str(marker)) for key, value in HOSTILE.items()}
    for key, value in values.items():
        shop.ok("create", "var", key, "-", "--app", "api", "--network", "shop", input=value)
    # stdin drops one trailing newline: read back what the platform holds
    held = {
        row["key"]: row["value"]
        for row in shop.ok("list", "vars", "--app", "api", "--network", "shop", "-o", "json").json()
    }
    work = tmp_path / "work"
    work.mkdir()
    shop.ok("env", "pull", "--app", "api", "--network", "shop", cwd=work)

    got = sourced(work / ".env", list(held))
    assert not marker.exists(), "sourcing the pulled .env ran a command substitution"
    assert got == held
    # and rig reads its own file back unchanged
    shop.ok("create", "app", "copy", "--network", "shop")
    shop.ok(
        "create", "var", "--from-file", str(work / ".env"), "--app", "copy", "--network", "shop"
    )
    copied = shop.ok("list", "vars", "--app", "copy", "--network", "shop", "-o", "json").json()
    assert {row["key"]: row["value"] for row in copied} == held


def test_an_existing_env_file_is_replaced_only_with_force(shop: Rig, tmp_path: Path) -> None:
    shop.ok("create", "var", "LEVEL", "debug", "--app", "api", "--network", "shop")
    mine = "DATABASE_URL=postgres://localhost/dev   # only on this machine\n"
    (tmp_path / ".env").write_text(mine)

    refused = shop("env", "pull", "--app", "api", "--network", "shop", cwd=tmp_path)
    line = single_error_line(refused)
    assert refused.code == 2 and ".env exists" in line and "--force" in line, str(refused)
    assert (tmp_path / ".env").read_text() == mine

    shop.ok("env", "pull", "--app", "api", "--network", "shop", "--force", cwd=tmp_path)
    assert sourced(tmp_path / ".env", ["LEVEL"]) == {"LEVEL": "debug"}
    assert "DATABASE_URL" not in (tmp_path / ".env").read_text()


PRINT_ENV = "import os, sys; print(*(os.environ.get(k, '<unset>') for k in sys.argv[1:]))"


def test_run_refuses_app_vars_that_would_replace_the_machines_own(
    shop: Rig, tmp_path: Path
) -> None:
    evil = tmp_path / "evil"
    evil.mkdir()
    shop.ok(
        "create", "var", f"PATH={evil}", f"LD_PRELOAD={evil}/hook.so",
        f"PYTHONPATH={evil}", "GREETING=hello", "--app", "api", "--network", "shop",
    )  # fmt: skip
    python = [sys.executable, "-c", PRINT_ENV]

    refused = shop("run", "--app", "api", "--network", "shop", "--", *python, "PATH")
    line = single_error_line(refused)
    assert refused.code == 2, str(refused)
    assert "LD_PRELOAD, PATH, PYTHONPATH" in line and "--allow-var" in line, line
    assert refused.out == "", "the command ran anyway"

    # named one by one, they pass; the others are still refused
    partly = shop(
        "run", "--app", "api", "--network", "shop", "--allow-var", "PATH", "--", *python, "PATH"
    )
    assert partly.code == 2 and "LD_PRELOAD, PYTHONPATH" in partly.err, str(partly)
    shop.ok("delete", "var", "LD_PRELOAD", "--app", "api", "--network", "shop", "--yes")
    ran = shop.ok(
        "run", "--app", "api", "--network", "shop", "--allow-var", "PATH",
        "--allow-var", "PYTHONPATH", "--", *python, "PATH",
        "GREETING",
    )  # fmt: skip
    assert ran.out == f"{evil} hello\n"
