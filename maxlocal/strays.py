"""Processes left behind by a platform that was killed without stopping its apps.

Every build and app process gets ``MAXLOCAL_PLATFORM=<marker>`` in its environment, the
marker being derived from the data directory. At start-up the platform kills the
process groups of whatever still carries its marker. Matching on the environment,
rather than on recorded pids, cannot hit an unrelated process that reused a pid, and
also finds processes started in the moment before a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import time
from pathlib import Path

import psutil

from maxlocal.runtime.proc import group_alive

MARKER_VAR = "MAXLOCAL_PLATFORM"


def marker_for(data_dir: Path) -> str:
    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]


def stray_groups(marker: str) -> set[int]:
    groups: set[int] = set()
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER_VAR) == marker:
                groups.add(os.getpgid(proc.pid))
        except (psutil.Error, OSError):
            continue
    groups.discard(os.getpgid(0))
    return groups


def kill_strays(marker: str, wait_s: float = 3.0) -> set[int]:
    """SIGKILL every process group carrying ``marker``; return the groups."""
    groups = stray_groups(marker)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while any(group_alive(g) for g in groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    return groups
