"""The command tree: every command's arguments, defined once for one-shot use and the shell.

Each module in ``rig.commands`` has ``register(tree)`` which calls
``tree.add("create network", handler, ...)`` and adds arguments to the parser it
gets back. ``build_parser()`` builds the one-shot parser; the shell builds one
parser per top-level word from the same registrations with its own parser class.
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NoReturn, cast

from rig import __version__

# Which module registers each command path, and each top-level word's help, in listing order:
# the index scripts/gen-reference generates from the registrations (rig/commands/__init__.py),
# so that a one-shot run imports and builds only the command its argv names.
from rig.commands import COMMAND_MODULES, COMMANDS, WORDS
from rig.errors import UsageError

# The verbs several command modules share: their help names what each lists, creates or deletes,
# so no one module declares it. A group word of one module is declared there (``tree.group``).
SHARED_WORDS = {
    "list": "list networks, apps, vars, secrets, releases, registries or contexts",
    "create": "create a network, app, var, secret or registry credentials",
    "delete": "delete a network, app, var, secret or registry credentials",
}

OUTPUT_FORMATS = ("table", "json")


class RigArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        hint = f"see `{self.prog} --help`"
        if "invalid choice" in message:
            from rig.suggest import choice_hint, without_hidden

            message = without_hidden(message)
            hint = choice_hint(message) or hint
        raise UsageError(message, hint=hint)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """As argparse's, but arguments no parser took are blamed on the command they were
        given to: its options offered as a did-you-mean, its own ``--help`` as the hint."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            leaf = _leaf(self, getattr(parsed, "command", None))
            raise UsageError(
                f"unrecognized arguments: {' '.join(extras)}", hint=_option_hint(leaf, extras)
            )
        return parsed


def _leaf(parser: argparse.ArgumentParser, path: str | None) -> argparse.ArgumentParser:
    """The parser of command ``path`` (``status app``) under ``parser``, or ``parser``."""
    for word in (path or "").split():
        subs = _subcommands(parser)
        if word not in subs:
            break
        parser = subs[word]
    return parser


def _option_hint(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str:
    """``did you mean `--follow`? See `rig logs app --help``` for a mistyped option."""
    from rig.suggest import closest

    see = f"see `{parser.prog} --help`"
    option = next((e.split("=", 1)[0] for e in extras if e.startswith("-") and e != "-"), None)
    if option is None:
        return see
    # Compared without their dashes, which every option shares: `--bogus` is not `--verbose`.
    known = {o.lstrip("-"): o for a in parser._actions for o in a.option_strings if len(o) > 2}
    match = closest(option.lstrip("-"), known)
    return f"did you mean `{known[match]}`? See `{parser.prog} --help`" if match else see


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
        help="output format (default: table; json: one JSON document, or one per line for "
        "logs and --watch)",
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


# -- arguments several commands declare alike ------------------------------------------------


def add_name_argument(parser: argparse.ArgumentParser, kind: str, *, optional: bool = True) -> None:
    """NAME, the app or network a command acts on; optional ones default to the selection."""
    if optional:
        action = parser.add_argument(
            "name", nargs="?", metavar="NAME", help=f"the {kind} (default: the selected one)"
        )
        # --app/--network as well, as every command that takes no NAME names its app or network.
        flag = parser.add_argument(
            f"--{kind}", metavar=kind.upper()[:3], help=f"the {kind}, as NAME"
        )
        completes(flag, kind)
    else:
        action = parser.add_argument("name", metavar="NAME", help=f"the {kind}")
    action.defaults_to_selection = optional  # type: ignore[attr-defined]
    completes(action, kind)


def add_network_option(parser: argparse.ArgumentParser, help: str = "the network") -> None:
    completes(parser.add_argument("--network", metavar="NET", help=help), "network")


def add_app_option(parser: argparse.ArgumentParser, help: str = "the app") -> None:
    completes(parser.add_argument("--app", metavar="APP", help=help), "app")


def add_scope_options(parser: argparse.ArgumentParser, what: str) -> None:
    add_app_option(parser, f"the app whose {what} to use")
    add_network_option(parser, f"the network whose {what} to use (with --app: the app's network)")


def add_yes_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def add_restart_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-restart",
        action="store_true",
        help="change the config only; running apps get it with their next release",
    )


def restarts(args: argparse.Namespace) -> bool:
    """Whether a var or secret change restarts the apps it concerns (not with --no-restart)."""
    return not getattr(args, "no_restart", False)


def parse_since(text: str) -> str:
    """``10m``/``2h``/``30s``/``1d`` as given, or an ISO time as RFC 3339 in UTC."""
    from datetime import UTC, datetime

    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?[smhd]", text):
        return text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since {text!r} is neither a duration nor a time",
            hint="e.g. --since 10m, --since 2h, --since 2026-11-25T19:50:00Z",
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a time without a zone is local time
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Handler = Callable[[Any, argparse.Namespace], Any]


class CommandTree:
    """Collects registrations into argparse parsers.

    ``words`` maps a top-level word to its parser; the one-shot parser hangs
    them under a root parser, the shell uses each as a command of its own.
    With ``only`` (a command path such as ``list apps``, or a word such as ``list``), the
    commands neither at nor under it are not built.
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
        self.word_helps: dict[str, str] = dict(SHARED_WORDS)
        self._subparsers: dict[str, Any] = {}

    def group(self, word: str, help: str) -> None:
        """Declare the help of ``word``, a group of subcommands (``status``): the index records
        it for ``rig --help``; the parsers take it from there (:data:`WORDS`)."""
        self.word_helps[word] = help

    def add(
        self,
        path: str,
        handler: Handler,
        help: str,
        *,
        examples: Iterable[str] = (),
        description: str | None = None,
        secret: bool = False,
    ) -> argparse.ArgumentParser:
        """Declare command ``path``; ``secret``: its positional values are secrets (the shell
        keeps them out of its history)."""
        words = path.split()
        if len(words) == 1 and help:
            self.word_helps[path] = help
        if self._only is not None and self._only not in (path, words[0]):
            return cast(argparse.ArgumentParser, Unbuilt())
        epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples) if examples else None
        if len(words) == 1:
            parser = self._word(words[0], help, description, epilog)
        else:
            group, name = words
            parent = self._word(group, WORDS.get(group, ""), None, None)
            subs = self._subparsers.get(group)
            if subs is None:
                # Global options are taken after the group's word too (`rig list -o json apps`).
                add_global_options(parent, suppress=True)
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
        parser.takes_secrets = secret  # type: ignore[attr-defined]
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

    Given the ``argv`` it will parse, only the command that ``argv`` names is built, and
    only its module imported: the whole group when no known subcommand follows a word
    (``rig list``), every word left empty but listed when ``argv`` names none.
    """
    root = RigArgumentParser(
        prog="rig",
        description="The command-line client for the Max application platform.",
        epilog="Run `rig COMMAND --help` for a command's options. Exit codes: 0 ok, "
        "1 failure, 2 usage, 3 not logged in or denied, 4 not found, 5 already exists, "
        "6 unreachable, 124 timed out (command --timeout), 126 cannot run and 127 not found "
        "(run's command), 130 interrupted.",
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

    if argv is None:
        register_all(CommandTree(make_word_parser))
        return root
    path = command_path(root, argv)
    if path is None:
        for word in dict.fromkeys(p.split()[0] for p in COMMANDS):
            make_word_parser(word, WORDS.get(word, ""))
        return root
    tree = CommandTree(make_word_parser, only=path)
    for name in dict.fromkeys(m for p, m in COMMANDS.items() if path in (p, p.split()[0])):
        importlib.import_module(f"rig.commands.{name}").register(tree)
    return root


def takes_secrets(parser: argparse.ArgumentParser | None) -> bool:
    """Whether the command of ``parser`` was declared with ``secret=True``."""
    return bool(getattr(parser, "takes_secrets", False))


def selection_words(words: Mapping[str, argparse.ArgumentParser]) -> frozenset[str]:
    """The words whose ``app`` and ``network`` commands default to the selection when given no
    NAME (declared with :func:`add_name_argument`): ``status``, ``logs``, ``details``. The shell
    runs such a word alone as the selection's (``status`` is ``status app``)."""

    def defaults(parser: argparse.ArgumentParser) -> bool:
        return any(getattr(a, "defaults_to_selection", False) for a in parser._actions)

    found = set()
    for word, parser in words.items():
        subs = _subcommands(parser)
        if all(kind in subs and defaults(subs[kind]) for kind in ("app", "network")):
            found.add(word)
    return frozenset(found)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_parser(path: str) -> argparse.ArgumentParser | None:
    """The one-shot parser of the command that ``path`` names (``create secret``), or None."""
    parser: argparse.ArgumentParser = build_parser(path.split())
    for word in path.split():
        subs = _subcommands(parser)
        if word not in subs:
            break
        parser = subs[word]
    return parser


def command_path(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str | None:
    """The command ``argv`` names as far as COMMANDS knows it: ``list apps``, a group's word when
    its subcommand is missing or unknown (``list``), a word that is a command; None for none."""
    rest = _positionals(parser, argv)
    word = next(rest, None)
    if word is None or not any(p.split()[0] == word for p in COMMANDS):
        return None
    sub = next(rest, None)
    return f"{word} {sub}" if f"{word} {sub}" in COMMANDS else word


def command_word(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str | None:
    """The first argument that is not one of ``parser``'s options or an option's value."""
    return next(_positionals(parser, argv), None)


def _positionals(parser: argparse.ArgumentParser, argv: Sequence[str]) -> Iterator[str]:
    """The arguments that are not ``parser``'s options or their values, all after a ``--``."""
    return (argv[i] for i in _positional_indexes([parser], argv))


def _positional_indexes(
    parsers: Iterable[argparse.ArgumentParser], argv: Sequence[str]
) -> Iterator[int]:
    """Where the arguments are in ``argv`` that are not options of ``parsers`` or their values."""
    takes_value = {
        option
        for parser in parsers
        for action in parser._actions
        if action.nargs != 0
        for option in action.option_strings
    }
    args = iter(enumerate(argv))
    for i, arg in args:
        if arg == "--":
            yield from (j for j, _ in args)
        elif arg in takes_value:
            next(args, None)
        elif not arg.startswith("-"):
            yield i


def resolved_argv(root: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """One-shot ``argv`` as its command is declared: a resource word in the singular as the
    plural its group declares (``list app`` is ``list apps``, as ``create app`` has it), and
    the resource word that ``status``, ``logs`` or ``details`` alone means, as in the shell:
    ``app`` (``--app``, else the app of RIG_APP or the rig.toml project), ``network`` when
    only a network is named that way. With none named, a usage error that says how to name
    one, instead of argparse's "required: COMMAND"."""
    words = _subcommands(root)
    at = next(_positional_indexes([root], argv), None)
    if at is None or argv[at] not in words:
        return argv
    word = argv[at]
    subs = _subcommands(words[word])
    after = at + 1
    following = next(_positional_indexes([root, *subs.values()], argv[after:]), None)
    if following is not None:
        sub = argv[after + following]
        if sub not in subs and f"{sub}s" in subs:
            return [*argv[: after + following], f"{sub}s", *argv[after + following + 1 :]]
        return argv  # a resource word (or a mistyped one, which argparse names)
    if "-h" in argv or "--help" in argv or word not in selection_words({word: words[word]}):
        return argv
    resource = _implied_resource(argv)
    if resource is None:
        choices = ", ".join(f"`rig {word} {sub}`" for sub in subs)
        raise UsageError(
            f"`rig {word}` needs to know which app or network",
            hint=f"name one: {choices}; inside a rig.toml project (`rig init`) or with RIG_APP "
            f"set, `rig {word}` alone means that app",
        )
    return [*argv[:after], resource, *argv[after:]]


def _implied_resource(argv: Sequence[str]) -> str | None:
    """As the shell's selection does: an app when one is named, else a network when one is."""

    def given(option: str) -> bool:
        return any(arg == option or arg.startswith(f"{option}=") for arg in argv)

    if given("--app"):
        return "app"
    from rig.config import environment
    from rig.targets import configured

    named = configured(environment())
    return "app" if named.app else "network" if named.network or given("--network") else None
