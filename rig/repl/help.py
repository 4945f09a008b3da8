"""The shell's ``help`` listing: every command under a heading that says what it is for, each
with its one-line description (cmd2's own listing had bare names under "Cmd2 Commands")."""

from __future__ import annotations

from collections.abc import Mapping

# Headings for the top-level words; a word declared later and not named here is listed under
# OTHER, so a new command is never missing (tests/shell checks that none is there today).
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Logging in", ("login", "logout", "whoami", "context")),
    (
        "Networks, apps, vars and secrets",
        ("list", "create", "delete", "details", "apply", "diff", "init"),
    ),
    (
        "Deploying and running apps",
        (
            "deploy",
            "rollback",
            "restart",
            "stop",
            "start",
            "scale",
            "status",
            "logs",
            "command",
            "shell",
            "audit",
        ),
    ),
    ("On this machine", ("local", "env", "run", "completion")),
)
OTHER = "Other commands"
SHELL = "The shell"


def listing(commands: Mapping[str, str], shell: Mapping[str, str]) -> str:
    """``commands`` (rig's words and their help) grouped under GROUPS, then ``shell`` (the
    shell's own words); a word with no help (``__complete``) is internal and left out."""
    shown = {word: text for word, text in commands.items() if text}
    sections: list[tuple[str, list[str]]] = []
    for heading, words in GROUPS:
        sections.append((heading, [word for word in words if word in shown]))
    grouped = {word for _, words in GROUPS for word in words}
    sections.append((OTHER, [word for word in shown if word not in grouped]))
    described = {**shown, **shell}
    sections.append((SHELL, list(shell)))
    width = max(map(len, described)) + 2
    blocks = [
        "\n".join([heading, *(f"  {word:<{width}}{described[word]}" for word in words)])
        for heading, words in sections
        if words
    ]
    return "\n\n".join(blocks) + "\n\n`help COMMAND` shows a command's options and examples."
