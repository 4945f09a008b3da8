"""Issue 15, finding 17: a secret given as an argument lands in shell history and ``ps``.

``rig create secret KEY VALUE`` and ``rig login --token T`` still work (scripts use them), but
on a terminal rig now says so on stderr, in one line naming the stdin form; piped or in a
script (stderr not a terminal) nothing is added. The stdin form of a token is ``--token -``.
"""

from __future__ import annotations

import sys

import pexpect

from tests.support.cli import ROOT, Rig, base_env, finished
from tests.support.cli import on_terminal as spawn
from tests.support.platform import Platform

VALUE = "argv-secret-value-41"
PROMPT = r"rig [^\s>]+>"  # the rig shell's prompt, whatever the context's name


def on_terminal(rig: Rig, *args: str) -> tuple[int, str]:
    """Run ``rig ARGS`` on a real terminal: its exit code and all it printed."""
    code, out = finished(spawn(rig, *args, timeout=30))
    return code, out.replace("\r\n", "\n")


def warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("rig: warning:")]


def test_a_secret_value_in_argv_is_warned_about_on_a_terminal(logged_in: Rig) -> None:
    logged_in.ok("create", "network", "shop")
    code, out = on_terminal(logged_in, "create", "secret", "TOKEN", VALUE, "--network", "shop")
    assert code == 0, out
    [warning] = warnings(out)
    assert "shell history" in warning and "rig create secret TOKEN -" in warning, warning
    assert VALUE not in out

    code, out = on_terminal(logged_in, "create", "secret", f"PAIR={VALUE}", "--network", "shop")
    assert code == 0 and len(warnings(out)) == 1, out

    # piped (a script): the same command, no warning
    quiet = logged_in.ok("create", "secret", "TOKEN", VALUE, "--network", "shop")
    assert warnings(quiet.err) == [], quiet.err


def test_a_token_in_argv_is_warned_about_and_stdin_takes_one(
    make_rig: object, shared_platform: Platform
) -> None:
    from tests.support.cli import unique_email

    rig = make_rig()  # type: ignore[operator]
    user = shared_platform.add_user(unique_email("argv"))
    code, out = on_terminal(rig, "login", "--api", shared_platform.url, "--token", user["token"])
    assert code == 0, out
    [warning] = warnings(out)
    assert "--token -" in warning and "shell history" in warning, warning
    assert user["token"] not in out

    other = make_rig()  # type: ignore[operator]
    run = other("login", "--api", shared_platform.url, "--token", "-", input=user["token"] + "\n")
    assert run.code == 0 and warnings(run.err) == [], str(run)
    assert other.ok("whoami", "-o", "json").json()["email"] == user["email"]


def test_the_rig_shell_masks_instead_of_warning(logged_in: Rig) -> None:
    """In the shell the line goes to its masked history, never to a process's argv: no
    warning there."""
    logged_in.ok("create", "network", "shop")
    env = {**base_env(logged_in.config_dir), **logged_in.env}
    env.update(TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", RIG_STATE_DIR=str(logged_in.config_dir))
    child = pexpect.spawn(
        sys.executable, ["-m", "rig"], env=env, cwd=str(ROOT), encoding="utf-8", timeout=30
    )
    child.expect(PROMPT)
    child.sendline(f"create secret TOKEN {VALUE} --network shop")
    child.expect_exact("Set 1 secret on network shop: TOKEN")
    shown = child.before or ""
    child.sendline("whoami")  # whatever the command printed after, it did before this
    child.expect_exact("Email")
    shown += child.before or ""
    child.expect(PROMPT)  # the prompt again: the shell reads its next line
    child.sendline("exit")
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert "warning" not in shown, shown
    rows = logged_in.ok("list", "secrets", "--network", "shop", "-o", "json").json()
    assert [row["key"] for row in rows] == ["TOKEN"]
