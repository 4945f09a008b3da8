"""Secret values never reach the history: lines are masked before they are stored.

``create secret KEY VALUE`` keeps its key and loses its value, ``KEY=VALUE``
keeps ``KEY=``, and ``--token``/``--password`` values go too, wherever they
appear. The rules are read from the command's parser, so an option that takes
a value is skipped correctly.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable

from cmd2 import Statement
from cmd2.history import History, HistoryItem
from cmd2.parsing import StatementParser
from cmd2.pt_utils import Cmd2History

from rig.cli import command_parser, takes_secrets

MASK = "..."
SECRET_OPTIONS = frozenset({"--token", "--password"})

ParserLookup = Callable[[str], argparse.ArgumentParser | None]


def mask_line(line: str, find_parser: ParserLookup | None = None) -> str:
    """``line`` with its secret values masked; ``find_parser`` gives a command's parser
    (default: the one-shot parser's), whose declaration says whether it takes secrets."""
    find_parser = find_parser or command_parser
    try:
        tokens = shlex.split(line)
    except ValueError:  # an unclosed quote: mask everything after the command words
        words = line.split()
        secret = _is_secret(words, find_parser)
        return " ".join(words[:2] + [MASK] * bool(words[2:])) if secret else line
    if not tokens:
        return line
    masked = _mask_tokens(tokens, find_parser)
    return line if masked == tokens else shlex.join(masked)


def _is_secret(words: list[str], find_parser: ParserLookup) -> bool:
    return len(words) >= 2 and takes_secrets(find_parser(" ".join(words[:2])))


def _mask_tokens(tokens: list[str], find_parser: ParserLookup) -> list[str]:
    secret = _is_secret(tokens, find_parser)
    takes_value = _valued_options(find_parser(" ".join(tokens[:2])))
    out = list(tokens[:2]) if secret else []
    rest = tokens[2:] if secret else tokens
    positional = 0
    skip_next = False
    for token in rest:
        if skip_next:
            out.append(MASK if out[-1] in SECRET_OPTIONS else token)
            skip_next = False
            continue
        name, eq, _value = token.partition("=")
        if token.startswith("-") and token != "-":
            if name in SECRET_OPTIONS and eq:
                out.append(f"{name}={MASK}")
            else:
                out.append(token)
                skip_next = not eq and (token in takes_value or token in SECRET_OPTIONS)
            continue
        if secret and token != "&":
            positional += 1
            if eq:
                out.append(f"{name}={MASK}")
            else:
                out.append(token if positional == 1 or token == "-" else MASK)
            continue
        out.append(token)
    return out


def _valued_options(parser: argparse.ArgumentParser | None) -> frozenset[str]:
    if parser is None:
        return frozenset({"--app", "--network", "-o", "--output", "--context", "--api"})
    return frozenset(
        option
        for action in parser._actions
        if action.nargs != 0
        for option in action.option_strings
    )


class MaskingHistory(History):
    """cmd2's history (what ``history`` shows and what is saved) with lines masked on entry."""

    def __init__(self, items: History, mask: Callable[[str], str]) -> None:
        super().__init__(items)
        self.session_start_index = items.session_start_index
        self._mask = mask
        self._parser = StatementParser(terminators=[])

    def append(self, new: Statement | HistoryItem) -> None:
        if isinstance(new, Statement):
            masked = self._mask(new.raw)
            if masked != new.raw:
                new = self._parser.parse(masked)
        super().append(new)


class MaskingPromptHistory(Cmd2History):
    """prompt_toolkit's in-memory history (the up arrow), masked the same way."""

    def __init__(self, strings: list[str], mask: Callable[[str], str]) -> None:
        self._mask = mask
        super().__init__(strings)

    def append_string(self, string: str) -> None:
        super().append_string(self._mask(string))
