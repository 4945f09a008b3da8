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
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MARKER = "alone"
RUN_ENV = "PYTEST_XDIST_TESTRUNUID"  # set in every worker, the same for one run


@contextmanager
def turn(alone: bool) -> Iterator[None]:
    """Hold the lock for one test; nothing to do outside xdist."""
    run = os.environ.get(RUN_ENV)
    if run is None:
        yield
        return
    base = Path(tempfile.gettempdir()) / f"rig-tests-{run}"
    with open(f"{base}.gate", "a") as gate, open(f"{base}.lock", "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
