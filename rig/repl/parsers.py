"""The shell's parsers: the one-shot command tree on cmd2's parser class, and the shell's own."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from cmd2 import Cmd2ArgumentParser
from cmd2.rich_utils import Cmd2HelpFormatter, RawDescriptionCmd2HelpFormatter

from rig.cli import CommandTree, completes, register_all
from rig.errors import UsageError
from rig.repl.completion import attach_providers, qualified_app_choices


class ShellArgumentParser(Cmd2ArgumentParser):
    """Errors become one line (a UsageError) instead of usage text, as in one-shot mode."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see `help {self.prog}`")

    # The command tree asks for argparse's formatter; cmd2 needs its rich equivalent.
    @property  # type: ignore[override]
    def formatter_class(self) -> type[Cmd2HelpFormatter]:
        return self._formatter_class

    @formatter_class.setter
    def formatter_class(self, value: Any) -> None:
        rich = isinstance(value, type) and issubclass(value, Cmd2HelpFormatter)
        self._formatter_class = value if rich else RawDescriptionCmd2HelpFormatter


def build_command_parsers() -> tuple[dict[str, ShellArgumentParser], dict[str, str]]:
    """Every top-level word's parser and help, from the same registrations as one-shot mode."""
    helps: dict[str, str] = {}

    def make_word_parser(word: str, help: str) -> argparse.ArgumentParser:
        helps[word] = help
        return ShellArgumentParser(prog=word)

    tree = CommandTree(make_word_parser)
    register_all(tree)
    words: dict[str, ShellArgumentParser] = {}
    for word, parser in tree.words.items():
        assert isinstance(parser, ShellArgumentParser)
        attach_providers(parser)
        words[word] = parser
    return words, helps


def build_use_parser() -> ShellArgumentParser:
    parser = ShellArgumentParser(
        prog="use",
        formatter_class=RawDescriptionCmd2HelpFormatter,  # the examples one a line
        description="Select the network and app commands use when --network/--app are omitted.",
        epilog="examples:\n  use network my-project\n  use app api\n  use app my-project/api"
        "\n  use none",
    )
    subs = parser.add_subparsers(title="what to select", metavar="WHAT", dest="what", required=True)
    network = subs.add_parser("network", help="select a network (and clear the app)")
    completes(network.add_argument("name", metavar="NET", help="the network"), "network")
    app = subs.add_parser("app", help="select an app; NET/APP selects its network too")
    app.add_argument(
        "name", metavar="APP", help="the app, or NET/APP", choices_provider=qualified_app_choices
    )
    subs.add_parser("none", help="clear the selection")
    attach_providers(parser)
    return parser


CURRENT_JOB = 0  # what `fg`, `fg %`, `fg %%` and `fg %+` mean: the newest running job


def job_spec(text: str) -> int:
    """A job as bash names it: ``1`` or ``%1``; ``%``, ``%%`` or ``%+`` for the current job
    (:data:`CURRENT_JOB`)."""
    spec = text[1:] if text.startswith("%") else text
    if spec in ("", "%", "+") and text.startswith("%"):
        return CURRENT_JOB
    if spec.isdigit() and int(spec) > 0:
        return int(spec)
    raise argparse.ArgumentTypeError(f"not a job: {text!r} (N or %N, see `jobs`)")


def build_job_parser(name: str, description: str, *, optional: bool) -> ShellArgumentParser:
    """``fg [N]``, ``kill N``: N is a job number, also written %N as in bash."""
    parser = ShellArgumentParser(prog=name, description=description)
    help = "the job number, or %%N (see `jobs`)"  # %% for argparse
    if optional:
        parser.add_argument(
            "job",
            type=job_spec,
            nargs="?",
            default=CURRENT_JOB,
            metavar="N",
            help=help + "; default: the newest running job",
        )
    else:
        parser.add_argument("job", type=job_spec, metavar="N", help=help)
    return parser


def build_jobs_parser() -> ShellArgumentParser:
    return ShellArgumentParser(
        prog="jobs", description="List background jobs (commands run with a trailing &)."
    )


def build_clear_parser() -> ShellArgumentParser:
    return ShellArgumentParser(prog="clear", description="Clear the screen and its scrollback.")


def build_watch_parser() -> ShellArgumentParser:
    parser = ShellArgumentParser(
        prog="watch",
        formatter_class=RawDescriptionCmd2HelpFormatter,
        description="Follow the live logs of one or more apps, one pane each, full screen; "
        "q, Esc or Ctrl+C returns to the prompt.",
        epilog="examples:\n  watch\n  watch api worker\n  watch shop/api blog/web --tail 50",
    )
    parser.add_argument(
        "apps",
        nargs="*",
        metavar="APP",
        help="an app of the selected network, or NET/APP (default: the selected app)",
        choices_provider=qualified_app_choices,
    )
    parser.add_argument(
        "--tail", type=int, default=20, metavar="N", help="stored lines to show first (20)"
    )
    return parser
