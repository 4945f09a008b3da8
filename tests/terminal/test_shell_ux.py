"""The shell as a new user finds it, in a real pseudo-terminal (issue 19, items 8 and 9):
bare `status` with nothing selected, `watch` alone, `clear`, a pasted `rig ...` line, `help`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.terminal.conftest import rig
from tests.terminal.test_terminal_live import Terminal
from tests.terminal.test_terminal_shell import leave, spawn, start

pytestmark = pytest.mark.alone  # a screen read on a deadline


def terminal(env: dict[str, str]) -> Terminal:
    """The shell on a terminal emulator, for what is on the screen rather than in the stream."""
    term = Terminal(start(env))
    term.wait_for(r"rig dev>")
    return term


def test_status_alone_with_nothing_selected_says_how_to_choose(env: dict[str, str]) -> None:
    child = spawn(env)
    for word in ("status", "logs -f", "details"):
        child.sendline(word)
        child.expect_exact(f"rig: `{word.split()[0]}` of what? No app or network is selected")
        child.expect_exact("(hint: `use app APP` or `use network NET` first, or name one: `")
        child.expect_exact("rig dev>")
    child.sendline("use app shop/api")
    child.expect_exact("rig dev:shop/api>")
    child.sendline("status")
    child.expect_exact("App:      api")
    child.expect_exact("rig dev:shop/api>")
    leave(child)


def test_watch_alone_follows_the_selected_app(env: dict[str, str]) -> None:
    term = terminal(env)
    term.child.sendline("watch")
    term.wait_for(r"which app\? No app is selected")
    term.wait_for(r"rig dev>$")
    term.child.sendline("use app shop/api")
    term.wait_for(r"rig dev:shop/api>$")
    term.child.sendline("watch")
    term.wait_for(r"shop/api +following")
    term.child.send("q")
    term.wait(lambda _: term.cursor_line().endswith("rig dev:shop/api>"), "the prompt again")
    leave(term.child)


def test_clear_clears_the_screen(env: dict[str, str]) -> None:
    term = terminal(env)
    term.child.sendline("list networks")
    term.wait_for(r"^shop +shop\.localhost")
    term.child.sendline("clear")
    term.wait(lambda text: text.strip() == "rig dev>", "a screen with only the prompt")
    assert "list networks" not in term.scrollback()
    leave(term.child)


def test_a_pasted_rig_command_runs_as_in_a_terminal(env: dict[str, str]) -> None:
    child = spawn(env)
    child.sendline("rig create network pasted")
    child.expect_exact("Created network pasted")
    child.expect_exact("rig dev>")
    child.sendline("rig list networks &")
    child.expect_exact("[1] done")
    child.expect_exact("rig dev>")
    child.sendline("rig")
    child.expect_exact("this is rig's shell: type a command")
    child.expect_exact("rig dev>")
    leave(child)


def test_help_lists_commands_by_purpose_and_keeps_examples_one_a_line(
    env: dict[str, str],
) -> None:
    term = terminal(env)
    term.child.sendline("help")
    term.wait_for(r"^`help COMMAND` shows a command's options and examples\.$")
    listing = term.scrollback()
    assert "Cmd2 Commands" not in listing and "__complete" not in listing, listing
    for heading, line in [
        ("Logging in", r"  login +log in to a Max platform"),
        ("Deploying and running apps", r"  deploy +upload a directory as a new release"),
        ("The shell", r"  fg +bring a background job to the foreground"),
    ]:
        assert re.search(rf"^{heading}\n(  .*\n)*{line}", listing, re.M), listing
    for word, examples in [
        ("use", ["use network my-project", "use app api", "use app my-project/api"]),
        ("watch", ["watch", "watch api worker"]),
    ]:
        term.child.sendline("clear")
        term.wait(lambda text: text.strip() == "rig dev>", "a clear screen")
        term.child.sendline(f"help {word}")
        term.wait_for(r"^examples:\n")
        text = term.text()
        assert "\n".join(["examples:", *(f"  {e}" for e in examples)]) in text, text
    term.child.sendline("help fg")
    term.wait_for(r"the job number, or %N")
    leave(term.child)


def test_context_alone_is_context_show(env: dict[str, str]) -> None:
    """The shell's bare `context` once made its own report; it is `context show`'s, with
    its fields and sources, and -o json as any command's."""
    child = spawn(env)
    child.sendline("use app shop/api")
    child.expect_exact("rig dev:shop/api>")
    child.sendline("context")
    child.expect_exact("App:            api\r\n")
    child.expect_exact("App source:     shell selection (set with `use` in the shell)\r\n")
    child.expect_exact("Project file:   -\r\n")
    child.expect_exact("rig dev:shop/api>")
    child.sendline("context -o json")
    child.expect_exact('"project_file": null')
    child.expect_exact("rig dev:shop/api>")
    leave(child)


def test_piped_lines_run_as_a_script_that_stops_at_the_first_failure(
    env: dict[str, str],
) -> None:
    """`echo "list networks" | rig` printed the usage and exited 0; it runs the lines as
    `psql < file` does, and the first that fails ends it with its exit code."""
    script = "\n".join(
        [
            "# set up",
            "rig create network piped",
            "use network piped",
            "",
            "create app web",
            "create network shop",  # exists: exit 5
            "create app never",
        ]
    )
    proc = subprocess.run(
        [sys.executable, "-m", "rig"],
        input=script + "\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 5, proc
    assert "Created network piped" in proc.stdout and "Created app web" in proc.stdout
    assert proc.stderr.splitlines()[-1] == "rig: stopped at line 6 (exit 5): create network shop"
    assert "never" not in rig(env, "list", "apps", "--network", "piped")
    ok = subprocess.run(
        [sys.executable, "-m", "rig"],
        input="list networks\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and "piped" in ok.stdout and not ok.stderr, ok
