"""Tests marked ``alone`` run with no other test at the same time when pytest-xdist runs
several workers: what they check (a terminal's screen, a process's CPU share, the bench's
figures) is about timing that another test's load could bend.

Every test holds a shared lock from the start of its setup to the end of its teardown, an
``alone`` test an exclusive one. A test about to wait for the lock first takes a gate that
every test passes through, so that a waiting ``alone`` test keeps new tests from starting
before it (otherwise two workers taking turns on the shared lock could starve it)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MARKER = "alone"


def lock_dir(config: pytest.Config) -> Path | None:
    """Where the workers of this run keep the lock: the run's temporary directory, whose
    ``popen-gw<N>`` subdirectories xdist gives its workers; None outside xdist."""
    if "PYTEST_XDIST_WORKER" not in os.environ or not config.option.basetemp:
        return None
    return Path(config.option.basetemp).parent


@contextmanager
def turn(directory: Path | None, alone: bool) -> Iterator[None]:
    """Hold the lock in ``directory`` for one test; nothing to do without one."""
    if directory is None:
        yield
        return
    with open(directory / "alone.gate", "a") as gate, open(directory / "alone.lock", "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
