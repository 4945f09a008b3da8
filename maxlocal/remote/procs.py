"""Process sessions of the operating system: everything a remote session started, found and ended.

Every remote session's leader runs in a new session (``setsid``), so its pid is also its session
id and its process group id. A shell with job control puts each job in a group of its own, but
all of them stay in the leader's session: ending a remote session signals the whole OS session.
"""

from __future__ import annotations

import contextlib
import os
import time

import psutil

WAIT_STEP = 0.02


def exit_code(returncode: int) -> int:
    """A shell's view of a status: the code itself, or 128+N when killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def members(sid: int) -> list[int]:
    """The pids of the live (not zombie) processes of session ``sid``."""
    found = []
    for proc in psutil.process_iter(["status"]):
        with contextlib.suppress(OSError, psutil.Error):
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getsid(proc.pid) == sid:
                found.append(proc.pid)
    return found


def signal_session(sid: int, signum: int) -> None:
    """Send ``signum`` to the process group ``sid`` and to every other process of its session."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, signum)
    for pid in members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def wait_session_gone(sid: int, timeout: float) -> bool:
    """Wait until no live process is left in session ``sid``; False if some still are."""
    deadline = time.monotonic() + timeout
    while members(sid):
        if time.monotonic() > deadline:
            return False
        time.sleep(WAIT_STEP)
    return True
