"""Ctrl+C that is not lost on the way.

Python raises KeyboardInterrupt wherever the main thread happens to be. When that is inside
a callback whose exceptions Python can only report and drop (a weakref callback of
importlib's module locks during an import, a ``__del__``), the interrupt is printed as
"Exception ignored" and the command carries on: a deploy interrupted while bundling went on
to upload. :func:`install` keeps such an interrupt as pending instead, and :func:`check`,
called between the steps of a command, raises it there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_pending = False


class _KeepInterrupts:
    """The unraisable hook: a dropped KeyboardInterrupt is kept as pending, anything else
    goes on to the hook that was there before."""

    def __init__(self, previous: Callable[[Any], object]) -> None:
        self.previous = previous

    def __call__(self, unraisable: Any) -> None:
        global _pending
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            _pending = True
            return
        self.previous(unraisable)


def install() -> None:
    """Keep dropped interrupts from now on; nothing if the hook in place is already ours
    (``main`` runs many times in one process under the tests: a hook wrapping a hook for
    each run would grow until reporting anything overflowed the stack)."""
    if not isinstance(sys.unraisablehook, _KeepInterrupts):
        sys.unraisablehook = _KeepInterrupts(sys.unraisablehook)


def check() -> None:
    """Raise the KeyboardInterrupt that was dropped, if one was."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt
