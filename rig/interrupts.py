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
from typing import Any

_pending = False


def install() -> None:
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        global _pending
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            _pending = True
            return
        previous(unraisable)

    sys.unraisablehook = hook


def check() -> None:
    """Raise the KeyboardInterrupt that was dropped, if one was."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt
