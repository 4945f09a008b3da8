"""Syntax highlighting of the input line: commands, flags, known resource names, ``&``.

:class:`RigLexer` is a pygments lexer (usable anywhere pygments is, e.g. to
colour transcripts); :func:`prompt_lexer` adapts it to prompt_toolkit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from typing import Any

from pygments.lexer import Lexer
from pygments.token import Keyword, Name, Operator, String, Text, _TokenType

_WORD = re.compile(r"""\s+|"(?:\\.|[^"\\])*"?|'[^']*'?|\S+""")

Words = Callable[[], Collection[str]]


class RigLexer(Lexer):
    name = "rig"
    aliases = ["rig"]

    def __init__(
        self,
        commands: Words = frozenset,
        subcommands: Callable[[str], Collection[str]] = lambda _word: frozenset(),
        names: Words = frozenset,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._commands = commands
        self._subcommands = subcommands
        self._names = names

    def get_tokens_unprocessed(self, text: str) -> Iterator[tuple[int, _TokenType, str]]:
        words: list[str] = []
        names: Collection[str] | None = None
        for match in _WORD.finditer(text):
            word = match.group()
            if word.isspace():
                yield match.start(), Text, word
                continue
            words.append(word)
            if len(words) == 1:
                token = Keyword if word in self._commands() else Text
            elif len(words) == 2 and word in self._subcommands(words[0]):
                token = Keyword
            elif word.startswith("-") and word != "-":
                token = Name.Attribute
            elif word == "&" and match.end() == len(text.rstrip()):
                token = Operator
            elif word[0] in "\"'":
                token = String
            else:
                names = names if names is not None else self._names()
                token = Name.Variable if word in names else Text
            yield match.start(), token, word


def prompt_lexer(lexer: RigLexer) -> Any:
    """A prompt_toolkit lexer over ``lexer``."""
    from prompt_toolkit.document import Document
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.lexers import Lexer as PromptLexer
    from prompt_toolkit.styles.pygments import pygments_token_to_classname

    class Adapter(PromptLexer):
        def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
            lines: list[StyleAndTextTuples] = [
                [
                    (f"class:{pygments_token_to_classname(token)}", value)
                    for _, token, value in lexer.get_tokens_unprocessed(line)
                ]
                for line in document.lines
            ]
            return lambda n: lines[n] if n < len(lines) else []

    return Adapter()
