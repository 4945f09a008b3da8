"""The transcript format (as cmd2 3.x used it) and ``rig --record FILE``.

A transcript is text. Everything before the first prompt line is a comment
(a ``setup: none`` line there runs it without a platform or login). A line
that starts with a prompt (``rig> ``, ``rig local> ``, ``rig local:net/app> ``)
is a command; the lines after it, up to the next prompt line, are its expected
output. Text between slashes is a regular expression; ``\\/`` is a literal
slash. ``.`` in one stops at the end of a line (``/.*/`` cannot swallow lines):
``(?s:...)`` spans lines where that is meant. ANSI styling is stripped and
trailing spaces are ignored.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

PROMPT_RE = re.compile(r"^(rig(?: [^\s>]+)?> )(.*)$")
SETUP_RE = re.compile(r"^\W*setup:\s*(\S+)", re.IGNORECASE)
ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
HEADER = (
    "Recorded with `rig --record` on {date}.\n"
    "Lines starting with the prompt are commands; the lines after each are its expected output.\n"
    "Text between slashes is a regular expression (\\/ is a slash). Edit freely.\n"
)


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text)


def normalize(text: str) -> str:
    lines = [line.rstrip() for line in strip_ansi(text).replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def escape(text: str) -> str:
    """Output as expected text: slashes escaped so they are not read as regular expressions."""
    return text.replace("/", "\\/")


def expected_pattern(expected: str) -> re.Pattern[str]:
    """The expected text as one regular expression: literal text escaped, /.../ as written."""
    parts: list[str] = []
    literal: list[str] = []
    i = 0
    while i < len(expected):
        if expected.startswith("\\/", i):
            literal.append("/")
            i += 2
        elif expected[i] == "/":
            end = _closing_slash(expected, i + 1)
            if end < 0:
                literal.append(expected[i:])
                break
            parts.append(re.escape("".join(literal)))
            literal = []
            parts.append(expected[i + 1 : end].replace("\\/", "/"))
            i = end + 1
        else:
            literal.append(expected[i])
            i += 1
    parts.append(re.escape("".join(literal)))
    return re.compile("".join(parts))


def _closing_slash(text: str, start: int) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "/":
            return i
        if text[i] == "\n":
            return -1
        i += 1
    return -1


def matches(expected: str, actual: str) -> bool:
    return expected_pattern(normalize(expected)).fullmatch(normalize(actual)) is not None


@dataclass
class Step:
    prompt: str
    line: str
    expected: str
    lineno: int


@dataclass
class Transcript:
    path: Path | None
    comment: str
    steps: list[Step] = field(default_factory=list)

    @property
    def setup(self) -> str:
        for line in self.comment.splitlines():
            match = SETUP_RE.match(line)
            if match:
                return match.group(1).lower()
        return "local"


def parse(text: str, path: Path | None = None) -> Transcript:
    comment: list[str] = []
    steps: list[Step] = []
    expected: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        match = PROMPT_RE.match(line)
        if match:
            if steps:
                steps[-1].expected = "\n".join(expected)
            expected = []
            steps.append(Step(match.group(1), match.group(2), "", lineno))
        elif steps:
            expected.append(line)
        else:
            comment.append(line)
    if steps:
        steps[-1].expected = "\n".join(expected)
    return Transcript(path, "\n".join(comment), steps)


def format_step(prompt: str, line: str, output: str) -> str:
    body = normalize(output)
    return f"{prompt}{line}\n" + (escape(body) + "\n" if body else "")


class Recorder:
    """Appends each command and its output to a transcript file as the session goes.

    Output of background jobs is not recorded: when it arrives depends on timing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def open(self) -> None:
        self._file = self.path.open("w", encoding="utf-8")
        self._file.write(
            HEADER.format(date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")) + "\n"
        )
        self._file.flush()

    def add(self, prompt: str, line: str, output: str) -> None:
        if self._file is None:
            self.open()
        assert self._file is not None
        with self._lock:
            self._file.write(format_step(prompt, line, output))
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
