"""A progress bar on stderr, drawn only for a person: stderr a terminal and not ``-o json``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from rig.output.units import human_bytes

if TYPE_CHECKING:
    from rig.context import Context

BAR_WIDTH = 28
REDRAW_S = 0.1
GREEN = "\x1b[32m"
RESET = "\x1b[0m"


class ProgressBar:
    """``bar(done)`` redraws at most every ``REDRAW_S``; ``close()`` ends the line."""

    def __init__(
        self,
        stream: IO[str],
        label: str,
        total: int,
        *,
        color: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.label = label
        self.total = max(total, 0)
        self.color = color
        self.clock = clock
        self.started = clock()
        self.done = 0
        self._drawn_at: float | None = None
        self._closed = False

    def __call__(self, done: int) -> None:
        self.done = done
        now = self.clock()
        if self._drawn_at is None or now - self._drawn_at >= REDRAW_S or done >= self.total:
            self._drawn_at = now
            self.stream.write("\r" + self.render(now) + "\x1b[K")
            self.stream.flush()

    def render(self, now: float) -> str:
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        filled = int(fraction * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        if self.color:
            bar = f"{GREEN}{bar[:filled]}{RESET}{bar[filled:]}"
        elapsed = max(now - self.started, 1e-6)
        rate = human_bytes(self.done / elapsed) + "/s"
        sizes = f"{human_bytes(self.done)}/{human_bytes(self.total)}"
        return f"{self.label} [{bar}] {fraction:4.0%}  {sizes}  {rate}"

    def close(self) -> None:
        if not self._closed and self._drawn_at is not None:
            self.stream.write("\n")
            self.stream.flush()
        self._closed = True


class NoProgress:
    def __call__(self, done: int) -> None:
        pass

    def close(self) -> None:
        pass


def wants_progress(ctx: Context) -> bool:
    return not ctx.json and not ctx.plain and ctx.stderr.isatty()


def progress_bar(ctx: Context, label: str, total: int) -> ProgressBar | NoProgress:
    """A bar on ``ctx.stderr`` when a person watches it, else one that draws nothing."""
    if not wants_progress(ctx):
        return NoProgress()
    return ProgressBar(ctx.stderr, label, total, color=ctx.color)
