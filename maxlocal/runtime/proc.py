"""Child processes of the runtime: their environment, their own process group, their output."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import psutil

from maxlocal.runtime.sandbox import FORWARDED, Sandbox, SandboxedPopen

if TYPE_CHECKING:
    from maxlocal.runtime.cgroups import Cgroup

SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
RELEASE_BIN_DIRS = (".venv/bin", "node_modules/.bin", "bin")
"""A release's own programs, first on PATH when they exist: its Python environment (a
``.venv`` the build made or linked), its Node tools, and a ``bin`` directory it ships."""
LANG = "C.UTF-8"
NO_HOME = Path("/nonexistent")
MAX_LINE_BYTES = 64 * 1024
READ_BYTES = 256 * 1024
KILL_WAIT = 1.0  # seconds for the rest of a group to go after SIGKILL


def child_env(
    variables: Mapping[str, str],
    release_dir: Path | None = None,
    *,
    home: Path | None = None,
    port: int | None = None,
) -> dict[str, str]:
    """The whole environment of a tenant process (build, app process, exec session): the one
    place it is made, so every kind of process gets the same one, however the platform was
    started.

    Nothing comes from the platform's own ``os.environ`` (its ``VIRTUAL_ENV``, ``PATH``,
    ``HOME`` or secrets would leak into the app and make it run differently depending on
    the shell that started the platform). The base: ``PATH`` of the release's own bin
    directories then the system's, ``HOME`` (a per-app directory; ``/nonexistent`` when
    none is given), ``LANG``, ``PYTHONUNBUFFERED=1`` and ``VIRTUAL_ENV`` when the release
    has a ``.venv``; then the app's ``variables`` (which may override the base); then
    ``PORT``, which is the platform's to give.
    """
    own_bins = [release_dir / d for d in RELEASE_BIN_DIRS] if release_dir is not None else []
    path = [str(d) for d in own_bins if d.is_dir()] + list(SYSTEM_PATH)
    env = {
        "PATH": os.pathsep.join(path),
        "HOME": str(home or NO_HOME),
        "LANG": LANG,
        "PYTHONUNBUFFERED": "1",
    }
    if release_dir is not None and (release_dir / ".venv" / "bin").is_dir():
        env["VIRTUAL_ENV"] = str(release_dir / ".venv")
    env.update(variables)
    if port is not None:
        env["PORT"] = str(port)
    return env


def launch(
    argv: list[str],
    cwd: Path,
    env: Mapping[str, str],
    *,
    sandbox: Sandbox | None = None,
    cgroup: Cgroup | None = None,
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """Start a tenant process: the one place every driver's build, app and exec processes
    are started, as the leader of a new session (so its whole group can be signalled), with
    exactly ``env`` (see ``child_env``) and nothing inherited but what ``popen`` says; in
    ``sandbox`` (see ``runtime.sandbox``) when given. bwrap keeps the new session (its pid
    is the group's), so signalling the group still reaches the tenant's processes.

    With ``cgroup``, the process joins it before its command starts (``Cgroup.prefix``,
    outermost, before the sandbox: every descendant is inside and limited)."""
    if sandbox is None:
        prefix = [*cgroup.prefix()] if cgroup is not None else []
        return subprocess.Popen(
            [*prefix, *argv], cwd=cwd, env=dict(env), start_new_session=True, **popen
        )
    # the join's shell ignores what bwrap must ignore: one exec (``env``) fewer a start
    prefix = [*cgroup.prefix(ignoring=FORWARDED)] if cgroup is not None else []
    with sandbox.started(argv, cwd, guarded=cgroup is not None) as (wrapped, fds):
        fds = (*popen.pop("pass_fds", ()), *fds)
        return SandboxedPopen(
            [*prefix, *wrapped],
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            pass_fds=fds,
            **popen,
        )


def spawn(
    command: str,
    cwd: Path,
    env: Mapping[str, str],
    *,
    merge_stderr: bool,
    sandbox: Sandbox | None = None,
    cgroup: Cgroup | None = None,
) -> subprocess.Popen[bytes]:
    """Run ``command`` with ``/bin/sh -c`` as the leader of a new process group."""
    return launch(
        ["/bin/sh", "-c", command],
        cwd,
        env,
        sandbox=sandbox,
        cgroup=cgroup,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
    )


def pump(stream: IO[bytes], on_line: Callable[[str], object], name: str) -> threading.Thread:
    """Read ``stream`` line by line in a thread, handing each decoded line to ``on_line``."""

    def each(lines: list[str]) -> None:
        for line in lines:
            on_line(line)

    return pump_lines(stream, each, name)


def pump_lines(
    stream: IO[bytes], on_lines: Callable[[list[str]], object], name: str
) -> threading.Thread:
    """Read ``stream`` in a thread, handing ``on_lines`` the lines of each read (as many as
    had arrived: a process writing fast costs a call per batch, not per line), decoded and
    without their line ends. A line longer than MAX_LINE_BYTES comes in pieces of that size;
    an unterminated last line comes at the end of the stream."""

    def run() -> None:
        with stream:
            fd, rest = stream.fileno(), b""
            while chunk := os.read(fd, READ_BYTES):
                lines, rest = _split_lines(rest + chunk)
                if lines:
                    on_lines([_decode(raw) for raw in lines])
            if rest:
                on_lines([_decode(rest)])

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def _split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """The complete lines of ``data`` (each at most MAX_LINE_BYTES) and what follows them."""
    lines, start = [], 0
    while True:
        end = data.find(b"\n", start, start + MAX_LINE_BYTES)
        if end >= 0:
            lines.append(data[start:end])
            start = end + 1
        elif len(data) - start >= MAX_LINE_BYTES:
            lines.append(data[start : start + MAX_LINE_BYTES])
            start += MAX_LINE_BYTES
        else:
            return lines, data[start:]


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _signal_group(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies, which wait to be reaped
    by whoever inherited them, do not count)."""
    if not _signal_group(pgid, 0):
        return False
    for proc in psutil.process_iter(["status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                return True
        except (OSError, psutil.Error):
            continue
    return False


def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``proc`` to end; whether it did (then it is reaped).

    ``Popen.wait(timeout)`` polls with sleeps that grow to 50 ms, so a step of a few hundred
    milliseconds was seen ending ~25 ms late on average; a pidfd is readable the moment the
    process exits. Without pidfds (Linux < 5.3), ``Popen.wait``. A process already reaped
    (by this call or another thread's ``wait``) has ended: its pid is not asked again, as
    it may be another process's by now."""
    if proc.returncode is not None:
        return True
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        if proc.returncode is None and not select.select([pidfd], [], [], timeout)[0]:
            return False
    finally:
        os.close(pidfd)
    proc.wait()
    return True


def terminate_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> int | None:
    """SIGTERM the process's group, SIGKILL it after ``grace`` seconds; return the exit code."""
    pgid = proc.pid
    _signal_group(pgid, signal.SIGTERM)
    _wait_for_group(proc, grace)
    _signal_group(pgid, signal.SIGKILL)
    code = proc.wait()
    # The leader is reaped; the other members die as the kernel gets to them: the group is
    # gone only once none is left (a moment, unless one is stuck in the kernel).
    _wait_for_group(proc, KILL_WAIT)
    return code


def _wait_for_group(proc: subprocess.Popen[bytes], seconds: float) -> None:
    """Wait up to ``seconds`` for the group to be gone: its leader's end is seen the moment
    it happens (``wait_exit``); the rest, which usually goes with it, by scanning."""
    deadline = time.monotonic() + seconds
    if not wait_exit(proc, seconds):
        return
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
