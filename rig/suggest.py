"""Did-you-mean: the nearest of the known words to a mistyped one (difflib, imported lazily)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)")


def closest(given: str, known: Iterable[str]) -> str | None:
    import difflib

    visible = [k for k in known if not k.startswith("_")]
    matches = difflib.get_close_matches(given, visible, n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(given: str, known: Iterable[str], template: str = "{}") -> str:
    """``did you mean `create`?`` or the empty string."""
    match = closest(given, known)
    return f"did you mean `{template.format(match)}`?" if match else ""


def hint_with_suggestion(given: str, known: Iterable[str], hint: str) -> str:
    """``hint`` after a did-you-mean when one of ``known`` is near ``given``:
    ``did you mean `shop`? Run `rig list networks` ...``."""
    suggestion = did_you_mean(given, known)
    if not suggestion:
        return hint
    return f"{suggestion} {hint[:1].upper()}{hint[1:]}" if hint else suggestion


def without_hidden(message: str) -> str:
    """argparse's invalid-choice message without the hidden words (``__complete``), which
    are for rig's own completion scripts, not for people."""
    return re.sub(r", '__[^']*'|'__[^']*', ", "", message)


def choice_hint(message: str) -> str:
    """A hint for argparse's ``invalid choice: 'craete' (choose from 'create', ...)``."""
    found = _INVALID_CHOICE.search(message)
    if not found:
        return ""
    choices = re.findall(r"'([^']*)'", found.group("choices"))
    return did_you_mean(found.group("given"), choices)
