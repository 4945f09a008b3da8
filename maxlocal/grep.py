"""Which log lines a grep keeps: those containing a text, or matching a regular expression run
on RE2.

Not Python's ``re``: it backtracks, and a pattern such as ``^(a+)+$`` on a line of 27 ``a`` and
a ``!`` takes seconds while holding the GIL, so one request froze every other one on the
platform (issue 15). RE2 runs in time linear in the line whatever the pattern, and refuses what
it cannot do that way (backreferences, lookaround) when the pattern is compiled. Shared by the
platform (``GET .../logs``) and by ``rig logs --grep``, which filters live lines the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_PATTERN = 1024
"""Characters in a pattern: far beyond any search typed by hand, and it bounds what RE2
compiles (which also has its own memory budget)."""

LineMatch = Callable[[str], bool]


class GrepError(ValueError):
    """A pattern that cannot be used, with why in one line."""


def line_match(pattern: str, regex: bool = False) -> LineMatch:
    """Whether a line contains ``pattern``, or (``regex``) matches it anywhere, as RE2 reads
    it; GrepError when it is too long or RE2 does not accept it."""
    if len(pattern) > MAX_PATTERN:
        raise GrepError(f"grep: at most {MAX_PATTERN} characters, got {len(pattern)}")
    if not regex:
        return lambda line: pattern in line
    search = compile_re2(pattern).search
    return lambda line: search(line) is not None


def compile_re2(pattern: str) -> Any:
    import re2  # only where a regex is asked for

    options = re2.Options()
    options.log_errors = False  # RE2 would print its own line on stderr for a bad pattern
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        text = text.replace("\n", "\\n").replace("\r", "\\r")
        raise GrepError(
            f"grep: not a regular expression RE2 accepts ({text}); RE2 has no backreferences"
            " or lookaround"
        ) from None
