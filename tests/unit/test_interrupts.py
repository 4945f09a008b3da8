"""A Ctrl+C that Python reports and drops (raised inside a ``__del__`` or a weakref callback,
as in importlib's module locks during an import) is not lost: the next check raises it."""

from __future__ import annotations

import io
import sys
from pathlib import Path
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


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_dropped_interrupt_stops_bundling_before_the_bar_is_drawn_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl+C dropped while bundling ends it at the next chunk: no bar under the ^C."""
    from rig.bundle import plan_bundle
    from rig.commands import deploy
    from rig.context import Context

    for i in range(3):
        (tmp_path / f"f{i}.txt").write_text("x" * 100)
    terminal = Terminal()
    monkeypatch.setattr(sys, "unraisablehook", lambda _: None)
    interrupts.install()
    drawn: list[int] = []

    def drop_an_interrupt(done: int) -> None:
        drawn.append(done)
        RaisesWhenCollected(KeyboardInterrupt)

    real_bar = deploy.progress_bar
    monkeypatch.setattr(
        deploy,
        "progress_bar",
        lambda *a: _Spy(real_bar(*a), drop_an_interrupt),
    )
    with pytest.raises(KeyboardInterrupt):
        deploy.bundle(Context(stderr=terminal), plan_bundle(tmp_path), tmp_path / "out.tgz")
    assert len(drawn) == 1  # drawn once, then the pending interrupt stopped it
    assert "Bundled" not in terminal.getvalue()


class _Spy:
    def __init__(self, bar: Any, hook: Any) -> None:
        self.bar, self.hook = bar, hook

    def __call__(self, done: int) -> None:
        self.bar(done)
        self.hook(done)

    def close(self) -> None:
        self.bar.close()
