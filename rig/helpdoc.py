"""The command tree as documentation: every command with its parser, and the Markdown reference
that ``scripts/gen-reference`` writes to docs/reference.md."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
from typing import Any

import rig.commands
from rig.cli import CommandTree, Handler

WIDTH = "100"
HEADER = """# rig command reference

Generated from the parsers by `scripts/gen-reference`; do not edit by hand (a test
checks that it is current). `rig COMMAND --help` prints the same text.
"""


# The order of the command modules in `rig --help` and the shell's listing; a module not named
# here (a new command) is listed after these, in alphabetical order.
LISTING = (
    "auth",
    "contexts",
    "networks",
    "apps",
    "env",
    "details",
    "apply",
    "project",
    "localenv",
    "completion",
    "local",
    "deploy",
    "releases",
    "registries",
    "lifecycle",
    "scale",
    "status",
    "logs",
    "remote",
)
INDEX_HEADER = '''\
"""The command modules, and their index: which module registers each command path, and
the help of each top-level word, in listing order. A one-shot run reads it to import only the
module of the command its argv names.

Generated from each module's ``register(tree)`` by `scripts/gen-reference`; do not edit by hand
(tests/unit/test_command_index.py checks that it is current).
"""
'''


class _IndexRecorder(CommandTree):
    """Runs the registrations without building a parser, noting which module declares what."""

    def __init__(self) -> None:
        super().__init__(lambda word, help: argparse.ArgumentParser(prog=word), only="\0")
        self.module = ""
        self.paths: dict[str, str] = {}

    def add(self, path: str, handler: Handler, help: str, **kwargs: Any) -> argparse.ArgumentParser:
        self.paths[path] = self.module
        return super().add(path, handler, help, **kwargs)


def command_modules() -> list[str]:
    """The modules in ``rig.commands`` that declare commands (have ``register``), listing order."""
    found = [m.name for m in pkgutil.iter_modules(rig.commands.__path__)]
    named = [m for m in found if hasattr(importlib.import_module(f"rig.commands.{m}"), "register")]
    return sorted(named, key=lambda m: (LISTING.index(m) if m in LISTING else len(LISTING), m))


def index_source() -> str:
    """rig/commands/__init__.py as the registrations declare it."""
    tree = _IndexRecorder()
    for name in command_modules():
        tree.module = name
        importlib.import_module(f"rig.commands.{name}").register(tree)
    words = dict.fromkeys(path.split()[0] for path in tree.paths)
    helps = {word: tree.word_helps[word] for word in words if tree.word_helps.get(word)}
    missing = [w for w in words if w not in helps and not w.startswith("_")]
    if missing:
        raise ValueError(f"no help declared for {', '.join(missing)} (tree.group(word, help))")
    return "".join(
        [
            INDEX_HEADER,
            "\n",
            _dict_source("COMMANDS", tree.paths),
            "\n",
            _dict_source("WORDS", helps),
            "\n",
            "COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))\n",
        ]
    )


def _dict_source(name: str, items: dict[str, str]) -> str:
    lines = [
        f"    {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},\n" for k, v in items.items()
    ]
    return f"{name} = {{\n" + "".join(lines) + "}\n"


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
