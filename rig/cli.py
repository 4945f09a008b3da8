"""The command tree: every command's arguments, defined once for one-shot use and the shell.

Each module in ``rig.commands`` has ``register(tree)`` which calls
``tree.add("create network", handler, ...)`` and adds arguments to the parser it
gets back. ``build_parser()`` builds the one-shot parser; the shell builds one
parser per top-level word from the same registrations with its own parser class.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn, cast

from rig import __version__
from rig.errors import UsageError

COMMAND_MODULES = (
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
    "lifecycle",
    "status",
    "logs",
    "remote",
)

# Top-level words that group commands by verb, with their help text.
GROUPS = {
    "create": "create a network, app, var or secret",
    "list": "list networks, apps, vars, secrets, releases or contexts",
    "delete": "delete a network, app, var or secret",
    "details": "show the configuration of an app or network",
    "context": "manage login contexts; show what commands here run against",
    "env": "an app's vars on this machine: pull them to a .env file",
    "local": "run the Max platform on this machine",
    "status": "show how apps are running: one app, a network, or all (dashboard)",
    "logs": "show the stored logs of an app, its builds or a network",
    "restart": "restart an app",
    "stop": "stop an app (its releases and config are kept)",
    "start": "start a stopped app",
}

OUTPUT_FORMATS = ("table", "json")


class RigArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        hint = f"see `{self.prog} --help`"
        if "invalid choice" in message:
            from rig.suggest import choice_hint

            hint = choice_hint(message) or hint
        raise UsageError(message, hint=hint)


def completes(action: argparse.Action, kind: str) -> argparse.Action:
    """Mark an argument as naming a resource of ``kind`` (network, app, var, ...) for completion."""
    action.complete_kind = kind  # type: ignore[attr-defined]
    return action


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options accepted before or after the command.

    On leaf parsers the defaults are suppressed so that a value given before the
    command is not overwritten by the leaf's default.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    g = parser.add_argument_group("global options")
    g.add_argument(
        "-o",
        "--output",
        choices=OUTPUT_FORMATS,
        default=default(None),
        help="output format (default: table; json prints one JSON document)",
    )
    g.add_argument("--context", metavar="NAME", default=default(None), help="login context to use")
    g.add_argument(
        "--api", metavar="URL", default=default(None), help="API URL (overrides the context)"
    )
    g.add_argument(
        "--no-color", action="store_true", default=default(False), help="no colour (also NO_COLOR)"
    )
    g.add_argument(
        "--plain",
        action="store_true",
        default=default(False),
        help="no colour, box drawing, progress bars or spinners (also RIG_PLAIN=1)",
    )
    g.add_argument(
        "-v", "--verbose", action="count", default=default(0), help="log HTTP requests to stderr"
    )
    g.add_argument(
        "--insecure",
        action="store_true",
        default=default(False),
        help="allow plain http:// to a host that is not this machine (also RIG_INSECURE=1)",
    )


Handler = Callable[[Any, argparse.Namespace], Any]


class CommandTree:
    """Collects registrations into argparse parsers.

    ``words`` maps a top-level word to its parser; the one-shot parser hangs
    them under a root parser, the shell uses each as a command of its own.
    With ``only``, the commands under every other word are not built: their
    words get a parser (to be listed with their help) and nothing below it.
    """

    def __init__(
        self,
        make_word_parser: Callable[[str, str], argparse.ArgumentParser],
        *,
        only: str | None = None,
    ) -> None:
        self._make_word_parser = make_word_parser
        self._only = only
        self.words: dict[str, argparse.ArgumentParser] = {}
        self._subparsers: dict[str, Any] = {}

    def add(
        self,
        path: str,
        handler: Handler,
        help: str,
        *,
        examples: Iterable[str] = (),
        description: str | None = None,
    ) -> argparse.ArgumentParser:
        words = path.split()
        if self._only is not None and words[0] != self._only:
            self._word(words[0], help if len(words) == 1 else GROUPS.get(words[0], ""), None, None)
            return cast(argparse.ArgumentParser, Unbuilt())
        epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples) if examples else None
        if len(words) == 1:
            parser = self._word(words[0], help, description, epilog)
        else:
            group, name = words
            parent = self._word(group, GROUPS.get(group, ""), None, None)
            subs = self._subparsers.get(group)
            if subs is None:
                subs = parent.add_subparsers(title="commands", metavar="COMMAND", dest="subcommand")
                subs.required = True
                self._subparsers[group] = subs
            parser = subs.add_parser(
                name,
                help=help,
                description=description or help[:1].upper() + help[1:] + ".",
                epilog=epilog,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        add_global_options(parser, suppress=True)
        parser.set_defaults(handler=handler, command=path)
        return parser

    def _word(
        self, word: str, help: str, description: str | None, epilog: str | None
    ) -> argparse.ArgumentParser:
        if word not in self.words:
            parser = self._make_word_parser(word, help)
            parser.description = description or help[:1].upper() + help[1:] + "."
            parser.epilog = epilog
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
            self.words[word] = parser
        return self.words[word]


class Unbuilt:
    """Stands in for the parser of a command this run will not parse: takes its arguments and
    keeps none (argparse spends ~0.5 ms on each parser and each argument it builds)."""

    def add_argument(self, *args: Any, **kwargs: Any) -> Unbuilt:
        return self


def register_all(tree: CommandTree) -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"rig.commands.{name}")
        module.register(tree)


def build_parser(argv: Sequence[str] | None = None) -> RigArgumentParser:
    """The one-shot parser: ``rig [global options] WORD [SUBCOMMAND] [args]``.

    Given the ``argv`` it will parse, only the commands under the word that ``argv``
    names are built; the others are listed in ``rig --help`` but left empty.
    """
    root = RigArgumentParser(
        prog="rig",
        description="The command-line client for the Max application platform.",
        epilog="Run `rig COMMAND --help` for a command's options. Exit codes: 0 ok, "
        "1 failure, 2 usage, 3 not logged in or denied, 4 not found, 5 already exists, "
        "6 unreachable, 130 interrupted.",
    )
    root.add_argument("--version", action="version", version=f"rig {__version__}")
    add_global_options(root, suppress=False)
    words = root.add_subparsers(title="commands", metavar="COMMAND", dest="word")

    def make_word_parser(word: str, help: str) -> argparse.ArgumentParser:
        # A word without help (the hidden `__complete`) is left out of the listing.
        parser: argparse.ArgumentParser = (
            words.add_parser(word, help=help) if help else words.add_parser(word)
        )
        return parser

    only = None if argv is None else command_word(root, argv) or ""
    register_all(CommandTree(make_word_parser, only=only))
    return root


def command_word(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str | None:
    """The first argument that is not one of ``parser``'s options or an option's value."""
    takes_value = {
        option
        for action in parser._actions
        if action.nargs != 0
        for option in action.option_strings
    }
    args = iter(argv)
    for arg in args:
        if arg == "--":
            return next(args, None)
        if arg in takes_value:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")
