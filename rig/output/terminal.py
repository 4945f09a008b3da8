"""Text that others control (an app's log lines, its build output, the platform's messages),
made harmless for a terminal: the one function every place that shows such text uses.

A terminal obeys escape sequences in what it prints: OSC 52 writes the clipboard, OSC 0 the
window title, others move the cursor, rewrite lines already shown or (on some terminals) talk
back on stdin; bidi overrides make text read other than it is. So every control character
(C0 but tab, DEL, C1) and every bidi control is shown escaped, as Python writes it
(``\\x1b]52;...``), and ``-o json`` keeps the raw text for programs.

SGR sequences (``ESC [ digits ; m``: colour and bold, common in app logs) are the exception,
as heroku and flyctl keep them: their grammar is checked whole (digits and separators only,
so nothing else can hide in one), they cannot do anything but style text, and a reset closes
a line that used one, so a colour never bleeds into rig's own text. Without colour (a pipe,
``NO_COLOR``, ``--plain``) they are dropped: styling, not content.
"""

from __future__ import annotations

import re

# C0 but tab, DEL, C1; LRM/RLM, the bidi embeddings and overrides, the bidi isolates
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SGR = re.compile(r"\x1b\[[0-9;:]{0,64}m")
_RESET = "\x1b[0m"


def safe_text(text: str, *, colour: bool = False) -> str:
    """``text`` with every control character and bidi control shown escaped; SGR colours kept
    when ``colour`` (then reset at the end), else dropped. Newlines are escaped too: pass one
    line at a time where line breaks are meant."""
    # the common case, a line a flood prints: one C scan (all of _UNSAFE is unprintable)
    if text.isprintable() or _UNSAFE.search(text) is None:
        return text
    if not colour:
        return _UNSAFE.sub(_escaped, _SGR.sub("", text))
    parts = _SGR.split(text)
    if len(parts) == 1:
        return _UNSAFE.sub(_escaped, text)
    kept = _SGR.findall(text)
    out = [_UNSAFE.sub(_escaped, parts[0])]
    for sgr, part in zip(kept, parts[1:], strict=True):
        out += [sgr, _UNSAFE.sub(_escaped, part)]
    return "".join(out) + _RESET


def safe_lines(text: str) -> str:
    """:func:`safe_text` for several lines: line breaks kept as they are."""
    return "\n".join(safe_text(line) for line in text.split("\n"))


def _escaped(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]
