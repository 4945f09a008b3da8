"""The .env format: ``KEY=value`` lines, for bulk vars and secrets.

Accepted:

- blank lines and ``#`` comments; an optional ``export `` before a key;
- unquoted values (surrounding blanks trimmed, `` #`` starts a comment);
- single-quoted values, taken literally;
- double-quoted values, with ``\\n \\r \\t \\\\ \\" \\$`` escapes (any other backslash is kept);
- quoted values spanning several lines;
- quoted parts side by side, and ``\\'`` between them, joined as sh joins them (``'it'\\''s'``).

Errors name the line and never include a value: a .env file may hold secrets.
"""

from __future__ import annotations

import re

_KEY_CHARS = re.compile(r"[^\s=#'\"]+")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "$": "$"}


class DotenvError(ValueError):
    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


def parse(text: str) -> dict[str, str]:
    """The keys and values of a .env document, in order; a later key replaces an earlier one."""
    return dict(_Parser(text).entries())


def dump(values: dict[str, str]) -> str:
    """A .env document that :func:`parse` reads back as ``values``, and that a POSIX shell's
    ``set -a; . ./.env`` reads back byte for byte, running nothing (see :func:`quote`)."""
    return "".join(f"{key}={quote(value)}\n" for key, value in values.items())


def quote(value: str) -> str:
    """``value`` in single quotes, where a shell expands nothing (``$``, backticks, ``\\``,
    newlines all literal); a ``'`` itself as ``'\\''`` (close, escaped quote, reopen)."""
    return "'" + value.replace("'", "'\\''") + "'"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text  # CRLF ends a line (a CR is a blank), but inside quotes stays as it is
        self.pos = 0
        self.line = 1

    def entries(self) -> list[tuple[str, str]]:
        found = []
        while self.pos < len(self.text):
            self._skip_blanks()
            char = self._peek()
            if char == "":
                break
            if char in "\n#":
                self._skip_rest_of_line()
                continue
            found.append(self._entry())
        return found

    def _entry(self) -> tuple[str, str]:
        key = self._key()
        if key == "export" and self._peek() in (" ", "\t"):
            self._skip_blanks()
            key = self._key()
        self._skip_blanks()
        if self._peek() != "=":
            raise DotenvError(
                self.line, f"expected '=' after {key!r}" if key else "expected KEY=VALUE"
            )
        self.pos += 1
        self._skip_blanks()
        start_line = self.line
        if self._peek() not in ("'", '"'):
            return key, self._unquoted()
        value = self._quoted_word(start_line)
        self._skip_blanks()
        if self._peek() not in ("", "\n", "#"):
            raise DotenvError(self.line, f"unexpected text after the closing quote of {key!r}")
        self._skip_rest_of_line()
        return key, value

    def _key(self) -> str:
        match = _KEY_CHARS.match(self.text, self.pos)
        if not match:
            raise DotenvError(self.line, "expected KEY=VALUE")
        self.pos = match.end()
        return match.group()

    def _unquoted(self) -> str:
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        raw = self.text[self.pos : end]
        self.pos = end
        comment = re.search(r"\s#", raw)
        if comment:
            raw = raw[: comment.start()]
        return raw.strip()

    def _quoted_word(self, start_line: int) -> str:
        """Quoted parts side by side, joined as a shell joins them: ``'it'\\''s'`` (what
        :func:`quote` writes for ``it's``) is one value."""
        parts: list[str] = []
        while True:
            char = self._peek()
            if char == "'":
                parts.append(self._single_quoted(start_line))
            elif char == '"':
                parts.append(self._double_quoted(start_line))
            elif self.text.startswith("\\'", self.pos) and parts:
                parts.append("'")
                self.pos += 2
            else:
                return "".join(parts)

    def _single_quoted(self, start_line: int) -> str:
        end = self.text.find("'", self.pos + 1)
        if end < 0:
            raise DotenvError(start_line, "unterminated single-quoted value")
        value = self.text[self.pos + 1 : end]
        self.line += value.count("\n")
        self.pos = end + 1
        return value

    def _double_quoted(self, start_line: int) -> str:
        out: list[str] = []
        i = self.pos + 1
        text = self.text
        while i < len(text):
            char = text[i]
            if char == '"':
                self.pos = i + 1
                return "".join(out)
            if char == "\\" and i + 1 < len(text):
                nxt = text[i + 1]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                else:
                    out.append(char + nxt)
                if nxt == "\n":
                    self.line += 1
                i += 2
                continue
            if char == "\n":
                self.line += 1
            out.append(char)
            i += 1
        raise DotenvError(start_line, "unterminated double-quoted value")

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip_blanks(self) -> None:
        while self._peek() in (" ", "\t", "\r") and self._peek():
            self.pos += 1

    def _skip_rest_of_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end + 1
        if end >= 0:
            self.line += 1
