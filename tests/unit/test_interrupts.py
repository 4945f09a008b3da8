"""A Ctrl+C that Python reports and drops (raised inside a ``__del__`` or a weakref callback,
as in importlib's module locks during an import) is not lost: the next check raises it."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from rig import interrupts


class RaisesWhenCollected:
    def __init__(self, error: type[BaseException]) -> None:
        self.error = error

    def __del__(self) -> None:
        raise self.error


def test_a_dropped_interrupt_is_raised_at_the_next_check(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    interrupts.install()
    RaisesWhenCollected(KeyboardInterrupt)  # collected at once: Python can only drop it
    assert reported == []  # nothing printed about it
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()
    interrupts.check()  # raised once


def test_other_dropped_errors_are_reported_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    interrupts.install()
    RaisesWhenCollected(ValueError)
    assert [r.exc_type for r in reported] == [ValueError]
    interrupts.check()  # nothing pending


def test_installing_again_keeps_one_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main`` installs at every run, and runs many times in one process under the tests:
    a hook wrapped around the hook at each run would overflow the stack when reporting."""
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    for _ in range(sys.getrecursionlimit() + 100):
        interrupts.install()
    RaisesWhenCollected(ValueError)
    assert [r.exc_type for r in reported] == [ValueError]
