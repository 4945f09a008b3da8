"""The command tree as documentation: every command with its parser, and the Markdown reference
that ``scripts/gen-reference`` writes to docs/reference.md."""

from __future__ import annotations

import argparse
import os

WIDTH = "100"
HEADER = """# rig command reference

Generated from the parsers by `scripts/gen-reference`; do not edit by hand (a test
checks that it is current). `rig COMMAND --help` prints the same text.
"""


def commands(root: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """Every command as (``"create network"``, its one-line help, its parser), hidden ones not."""
    found: list[tuple[str, str, argparse.ArgumentParser]] = []

    def walk(parser: argparse.ArgumentParser, path: str, help: str) -> None:
        subs = _subparsers(parser)
        if subs is None:
            found.append((path, help, parser))
            return
        helps = {a.dest: a.help or "" for a in subs._choices_actions}
        for name, child in subs.choices.items():
            if name in helps:
                walk(child, f"{path} {name}".strip(), helps[name])

    walk(root, "", root.description or "")
    return found


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def markdown(root: argparse.ArgumentParser) -> str:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH  # argparse wraps to the terminal: fix the width
    try:
        parts = [HEADER, "## rig\n", _block(root.format_help())]
        for path, help, parser in commands(root):
            summary = f"{help[:1].upper()}{help[1:]}.\n"
            parts += [f"## rig {path}\n", summary, _block(_without_globals(parser.format_help()))]
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return "\n".join(parts)


def _without_globals(text: str) -> str:
    """A command's help without the global options, which the `rig` section lists once."""
    start = text.find("\nglobal options:\n")
    if start < 0:
        return text
    end = text.find("\n\n", start + 1)
    rest = text[end:] if end >= 0 else "\n"
    return text[:start] + "\n" + rest.lstrip("\n")


def _block(text: str) -> str:
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    return "```text\n" + "\n".join(lines) + "\n```\n"
