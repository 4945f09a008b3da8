"""The local terminal for a remote shell: raw mode, restored on every way out, its size, and
the signals that reach it (Ctrl+C, SIGWINCH, SIGTERM/SIGHUP).

    with raw_mode(fd), on_resize(lambda cols, rows: ...), on_interrupt(callback):
        ...

SIGTERM and SIGHUP while raw raise ``TerminalSignal`` (so the mode is restored on the way out);
``-1`` for the fd, or a stream that is not a terminal, makes both a no-op.

The one module of the client that is POSIX-only (termios, tty, SIGWINCH, an event loop's signal
handlers): the seam where a Windows terminal (the console API) would go (docs/platforms.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import termios
import threading
import tty
from collections.abc import Callable, Iterator
from types import FrameType

FALLBACK_SIZE = (80, 24)
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class TerminalSignal(Exception):
    """A signal that ends the program arrived while the terminal was raw."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def terminal_size(fd: int = 1) -> tuple[int, int]:
    """``(columns, rows)`` of the terminal on ``fd``, or 80x24 when it is not one."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return FALLBACK_SIZE
    return size.columns or FALLBACK_SIZE[0], size.lines or FALLBACK_SIZE[1]


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _handling(
    signals: tuple[int, ...], handler: Callable[[int, FrameType | None], None]
) -> Iterator[None]:
    """``handler`` for ``signals`` inside the block (only the main thread can set handlers)."""
    if not _in_main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise TerminalSignal(signum)


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """The terminal on ``fd`` in raw mode (no echo, no line editing, no signals from keys)
    inside the block, and exactly as it was after it, however the block ends."""
    try:
        saved = termios.tcgetattr(fd)
    except (termios.error, OSError):
        yield
        return
    try:
        with _handling(ENDING_SIGNALS, _raise):
            tty.setraw(fd, termios.TCSANOW)
            yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def on_resize(callback: Callable[[int, int], None], fd: int = 1) -> Iterator[None]:
    """``callback(columns, rows)`` whenever the terminal on ``fd`` changes size (SIGWINCH)."""

    def resized(_signum: int, _frame: FrameType | None) -> None:
        callback(*terminal_size(fd))

    with _handling((signal.SIGWINCH,), resized):
        yield


@contextlib.contextmanager
def on_interrupt(callback: Callable[[], None]) -> Iterator[None]:
    """``callback()`` on each Ctrl+C (SIGINT) inside the block, run by the running event loop
    instead of a KeyboardInterrupt; Python's handler again after it (main thread only)."""
    if not _in_main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)
    loop.add_signal_handler(signal.SIGINT, callback)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        signal.signal(signal.SIGINT, previous)
