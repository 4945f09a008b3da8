"""Issue 15, findings 13 and 16, the rules themselves: which characters ``safe_text`` shows
escaped and which SGR it keeps; which paths the default ``.env*`` exclusion keeps back and
what brings one back. (The attacks, on a real platform and terminal, are in
test_harden_client_escapes.py and test_harden_client_bundle.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.bundle import DEFAULT_RULE, plan_bundle
from rig.output.terminal import safe_lines, safe_text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text, tab\there, caf\u00e9 \u2603", "plain text, tab\there, caf\u00e9 \u2603"),
        ("\x1b]52;c;cm0K\x07", "\\x1b]52;c;cm0K\\x07"),  # clipboard write
        ("\x1b]0;title\x1b\\", "\\x1b]0;title\\x1b\\"),  # window title, ST-terminated
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear screen, cursor home: CSI but not SGR
        ("a\rb\nc\x08d\x7f", "a\\rb\\nc\\x08d\\x7f"),
        ("\x9b31m", "\\x9b31m"),  # C1 CSI, which some terminals obey
        ("\u202eevil\u202c \u2067x\u2069 \u200f", "\\u202eevil\\u202c \\u2067x\\u2069 \\u200f"),
        ("\x1b[31mred\x1b[0m", "red"),  # no colour: SGR dropped
        ("\x1b[31;1mx\x1b[m", "x"),
    ],
)
def test_safe_text_without_colour(raw: str, shown: str) -> None:
    assert safe_text(raw) == shown


def test_safe_text_keeps_only_whole_sgr_with_colour_and_closes_it() -> None:
    assert safe_text("\x1b[31mred\x1b[0m ok", colour=True) == "\x1b[31mred\x1b[0m ok\x1b[0m"
    assert safe_text("\x1b[38;5;196mx", colour=True) == "\x1b[38;5;196mx\x1b[0m"
    # an SGR look-alike carrying anything else is escaped whole, and nothing leaks around SGR
    assert safe_text("\x1b[31;\x1b]52;c;x\x07m", colour=True) == "\\x1b[31;\\x1b]52;c;x\\x07m"
    assert safe_text("\x1b[1m\x1b]0;t\x07", colour=True) == "\x1b[1m\\x1b]0;t\\x07\x1b[0m"
    assert safe_text("no escapes", colour=True) == "no escapes"


def test_safe_lines_keeps_line_breaks_only() -> None:
    assert safe_lines("one\ntwo \x1b]0;t\x07\n") == "one\ntwo \\x1b]0;t\\x07\n"


def make(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_env_files_are_left_out_by_default_and_only_rigignore_brings_one_back(
    tmp_path: Path,
) -> None:
    root = make(
        tmp_path,
        {
            "app.py": "",
            ".env": "",
            ".envrc": "",
            ".env.local": "",
            "sub/.env.production": "",
            ".env-venv/bin/python": "",  # a virtualenv called .env-venv: not entered
            "environment.py": "",
            "sub/.gitignore": "!.env.production\n",  # git's rules do not bring one back
        },
    )
    plan = plan_bundle(root)
    assert [f.path for f in plan.files] == ["app.py", "environment.py", "sub/.gitignore"]
    assert sorted(plan.env_files_left_out) == [
        ".env", ".env-venv/", ".env.local", ".envrc", "sub/.env.production"
    ]  # fmt: skip
    assert {e.rule for e in plan.excluded} == {DEFAULT_RULE}

    (root / ".rigignore").write_text("!.env.local\n!sub/.env.production\n")
    plan = plan_bundle(root)
    assert ".env.local" in [f.path for f in plan.files]
    assert "sub/.env.production" in [f.path for f in plan.files]
    assert ".env" in plan.env_files_left_out

    (root / ".rigignore").write_text("*.local\n")  # an exclusion of its own still names itself
    rules = {e.path: e.rule for e in plan_bundle(root).excluded}
    assert rules[".env.local"] == ".rigignore:1:*.local" and rules[".env"] == DEFAULT_RULE


def test_tables_messages_errors_and_panes_go_through_safe_text() -> None:
    """The other places app or platform text meets a terminal: table cells (``status``,
    ``list``), error messages quoting the platform, the shell's ``watch`` panes."""
    import io

    from rig.errors import RigError
    from rig.output import Result, render, render_error
    from rig.repl.watch import Pane

    out = io.StringIO()
    render(Result(data=[{"exited": "code 1: \x1b]0;t\x07"}]), "table", out)
    assert "\x1b" not in out.getvalue() and "code 1: \\x1b]0;t\\x07" in out.getvalue()
    out = io.StringIO()
    render(Result(data={"health": "\x1b]52;c;x\x07"}), "table", out)
    assert "\x1b" not in out.getvalue()
    err = io.StringIO()
    render_error(RigError("failed: \x1b]52;c;x\x07\nnext", hint="\u202ex"), "table", err)
    assert err.getvalue() == "rig: failed: \\x1b]52;c;x\\x07\\nnext (hint: \\u202ex)\n"
    pane = Pane("shop", "api")
    pane.add({"stream": "stdout", "ts": "", "line": "a \x1b]0;t\x07 b"})
    assert "".join(text for _, text in pane.text()).endswith("a \\x1b]0;t\\x07 b")
