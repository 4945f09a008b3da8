"""Remote sessions: commands on pipes, shells on a pseudo-terminal, and the registry of live ones.

Each session's processes run in an OS session of their own (see ``procs``). A session ends when
its leader exits, or when it is killed (timeout, idle shell, a client gone, shutdown); either way
every process left in its OS session is killed, its output is read to the end, it leaves the
registry, and only then is ``on_exit`` called. Callbacks run on the session's own threads.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import signal
import struct
import subprocess
import termios
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from maxlocal.remote.procs import exit_code, signal_session, wait_session_gone
from maxlocal.runtime.driver import Launcher
from maxlocal.runtime.proc import launch
from maxlocal.store.db import utc_now

CHUNK = 64 * 1024
GRACE = 2.0
CHECK_EVERY = 0.25
DEFAULT_IDLE_TIMEOUT = 3600.0
DEFAULT_MAX_PER_USER = 16
STDIN_WINDOW = 1024 * 1024
"""Bytes of input a session's process has not read yet that the platform holds for it; past
that its client waits (``Session.wait_for_room``), as a writer to a full pipe does."""
EOF_CHAR = b"\x04"
SIGNALS = {
    name: getattr(signal, f"SIG{name}") for name in ("INT", "TERM", "HUP", "QUIT", "KILL", "USR1")
}

OnData = Callable[[bytes], None]


class TooManySessions(Exception):
    pass


@dataclass(frozen=True)
class SessionInfo:
    id: str
    user: str
    target: str
    kind: str
    command: str
    started_at: str
    pid: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Ended:
    """How a session ended. ``reason``: ``exit`` (by itself), ``timeout``, ``idle``,
    ``disconnected`` (its client went away) or ``shutdown`` (the platform stopped)."""

    code: int
    reason: str
    duration_s: float


OnExit = Callable[[Ended], None]
_STOP = object()


class Session:
    """A running command (or piped shell script); every method returns at once, from any thread."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        info: SessionInfo,
        on_exit: OnExit,
        forget: Callable[[Session], None],
        timeout: float | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        self.proc, self.info, self.pid = proc, info, proc.pid
        self._on_exit, self._forget = on_exit, forget
        self._timeout, self._idle_timeout = timeout, idle_timeout
        self._started = self._active = time.monotonic()
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._kill_at: float | None = None
        self._inbox: deque[bytes | object | None] = deque()
        self._pending = 0  # bytes in the inbox and being written
        self._input = threading.Condition()
        self._input_closed = False  # nothing more is read: the process is gone, or has EOF
        self._on_room: list[Callable[[], object]] = []
        self._readers: list[threading.Thread] = []
        self._in_read: set[int] = set()  # readers waiting for the pipe, not for the client
        self._writer: threading.Thread | None = None
        self._done = threading.Event()
        self.ended: Ended | None = None

    # -- the controls

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the process's input (dropped once it reads no more). Callers
        wait for room first: see ``has_room``."""
        self._active = time.monotonic()
        with self._input:
            if not self._input_closed:
                self._inbox.append(data)
                self._pending += len(data)
                self._input.notify_all()

    def eof(self) -> None:
        with self._input:
            self._inbox.append(None)
            self._input.notify_all()

    def when_room(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` (at once, or later from the writer's thread) once more input may
        be queued: under ``STDIN_WINDOW`` is waiting, or the process reads no more (then it is
        dropped). Callers wait for it before each ``write``."""
        with self._input:
            if not self._has_room():
                self._on_room.append(callback)
                return
        callback()

    def _has_room(self) -> bool:
        return self._pending < STDIN_WINDOW or self._input_closed

    def _room_made(self) -> None:
        """With ``_input`` held: wake up whoever waits for room, if there is some now."""
        self._input.notify_all()
        if self._on_room and self._has_room():
            waiting, self._on_room = self._on_room, []
            for callback in waiting:
                with contextlib.suppress(RuntimeError):  # its event loop has closed
                    callback()

    def resize(self, cols: int, rows: int) -> None:
        """Only a shell on a terminal has a size."""

    def send_signal(self, name: str) -> None:
        """Send signal ``name`` (``INT``, ``TERM``, ...) to the session's foreground processes."""
        signum = SIGNALS.get(name.upper().removeprefix("SIG"))
        if signum is None:
            raise ValueError(f"unknown signal {name!r}: use one of {', '.join(SIGNALS)}")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._foreground(), signum)

    def kill(self, reason: str = "disconnected", signum: int = signal.SIGHUP) -> None:
        """End the session: ``signum`` to all its processes now, SIGKILL after a grace period."""
        with self._lock:
            if self._reason is not None or self._done.is_set():
                return
            self._reason = reason
            self._kill_at = time.monotonic() + (0 if signum == signal.SIGKILL else GRACE)
        signal_session(self.pid, signum)

    def wait(self, timeout: float | None = None) -> Ended | None:
        self._done.wait(timeout)
        return self.ended

    # -- what a kind of session changes

    def _foreground(self) -> int:
        return self.pid

    def _send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self.proc.stdin.fileno(), view) :]

    def _send_eof(self) -> bool:
        """Send end-of-input; True when nothing more can be written after it."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return True

    def _check_idle(self, now: float) -> None:
        """Commands are not ended for being quiet; shells are."""

    def _close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    # -- the threads

    def begin(self, sources: list[tuple[int, OnData]]) -> None:
        for fd, on_data in sources:
            reader = threading.Thread(target=self._read, args=(fd, on_data), daemon=True)
            reader.start()
            self._readers.append(reader)
        self._writer = threading.Thread(target=self._write_loop, daemon=True)
        self._writer.start()
        threading.Thread(target=self._watch, name=f"session {self.info.id}", daemon=True).start()

    def _read(self, fd: int, on_data: OnData) -> None:
        me = threading.get_ident()
        while True:
            self._in_read.add(me)
            try:
                data = os.read(fd, CHUNK)
            except OSError:  # EIO: a terminal whose last holder closed it
                return
            finally:
                self._in_read.discard(me)
            if not data:
                return
            self._active = time.monotonic()
            on_data(data)  # waits while the client is behind (see remote.channel.Outlet)

    def _join_readers(self) -> None:
        """Wait until the output is read to the end and handed on, however slow the client
        (a reader handing on waits for it); give up only on a reader still waiting for the
        pipe a grace period after the session's processes are gone: a process that left
        the session holds it open."""
        deadline = time.monotonic() + GRACE
        for reader in self._readers:
            while reader.is_alive():
                reader.join(CHECK_EVERY)
                if time.monotonic() >= deadline and reader.ident in self._in_read:
                    break

    def _write_loop(self) -> None:
        try:
            while (item := self._take()) is not _STOP:
                if item is None:
                    if self._send_eof():
                        return
                elif isinstance(item, bytes):
                    self._send(item)
                    with self._input:
                        self._pending -= len(item)
                        self._room_made()
        except OSError:
            return
        finally:
            with self._input:
                self._input_closed = True
                self._inbox.clear()
                self._pending = 0
                self._room_made()

    def _take(self) -> bytes | object | None:
        with self._input:
            while not self._inbox:
                self._input.wait()
            return self._inbox.popleft()

    def _stop_input(self) -> None:
        """Stop the writer before any input still queued: the process is gone."""
        with self._input:
            self._inbox.appendleft(_STOP)
            self._input.notify_all()

    def _watch(self) -> None:
        while True:
            try:
                returncode = self.proc.wait(CHECK_EVERY)
                break
            except subprocess.TimeoutExpired:
                self._check(time.monotonic())
        signal_session(self.pid, signal.SIGKILL)
        wait_session_gone(self.pid, GRACE)
        self._stop_input()
        self._join_readers()
        if self._writer is not None:
            self._writer.join(GRACE)
        threads = [*self._readers, *([self._writer] if self._writer else [])]
        if not any(thread.is_alive() for thread in threads):
            self._close()
        with self._lock:
            duration = round(time.monotonic() - self._started, 3)
            self.ended = Ended(exit_code(returncode), self._reason or "exit", duration)
        self._forget(self)
        self._done.set()
        self._on_exit(self.ended)

    def _check(self, now: float) -> None:
        if self._kill_at is not None and now >= self._kill_at:
            self._kill_at = now + GRACE
            signal_session(self.pid, signal.SIGKILL)
        elif self._timeout is not None and now - self._started >= self._timeout:
            self.kill("timeout", signal.SIGTERM)
        else:
            self._check_idle(now)


class ShellSession(Session):
    """An interactive shell on a pseudo-terminal: one output stream, a size, a foreground job."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        info: SessionInfo,
        on_exit: OnExit,
        forget: Callable[[Session], None],
        master: int,
        on_output: OnData,
        idle_timeout: float,
    ) -> None:
        super().__init__(proc, info, on_exit, forget, idle_timeout=idle_timeout)
        self.master, self._on_output = master, on_output

    def resize(self, cols: int, rows: int) -> None:
        """The kernel tells the foreground job (SIGWINCH) when the size changes."""
        set_size(self.master, cols, rows)

    def _foreground(self) -> int:
        try:
            return os.tcgetpgrp(self.master)
        except OSError:
            return self.pid

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view) :]

    def _send_eof(self) -> bool:
        os.write(self.master, EOF_CHAR)
        return False

    def _check_idle(self, now: float) -> None:
        if self._idle_timeout is not None and now - self._active >= self._idle_timeout:
            minutes = self._idle_timeout / 60
            shown = f"{minutes:g} min" if minutes >= 1 else f"{self._idle_timeout:g} s"
            self._on_output(f"\r\n[idle for {shown}: closing the session]\r\n".encode())
            self.kill("idle")

    def _close(self) -> None:
        os.close(self.master)


class SessionManager:
    """Starts sessions and keeps the live ones, per user; ``close`` ends them all."""

    def __init__(
        self,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_per_user: int = DEFAULT_MAX_PER_USER,
    ) -> None:
        self.idle_timeout, self.max_per_user = idle_timeout, max_per_user
        self._lock = threading.Lock()
        self._live: dict[str, Session] = {}

    def start_command(
        self,
        cmd: str,
        cwd: Path,
        env: Mapping[str, str],
        on_stdout: OnData,
        on_stderr: OnData,
        on_exit: OnExit,
        timeout: float | None = None,
        *,
        user: str = "",
        target: str = "",
        kind: str = "command",
        shown: str | None = None,
        launcher: Launcher | None = None,
    ) -> Session:
        """Run ``cmd`` with ``/bin/sh -c``; ``shown`` is the command line as the registry
        lists it (with secrets masked), by default ``cmd``."""
        proc, info = self._spawn(
            ["/bin/sh", "-c", cmd],
            cwd,
            env,
            user=user,
            target=target,
            kind=kind,
            shown=cmd if shown is None else shown,
            launcher=launcher,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        assert proc.stdout is not None and proc.stderr is not None
        session = Session(proc, info, on_exit, self._forget, timeout)
        self._add(session, [(proc.stdout.fileno(), on_stdout), (proc.stderr.fileno(), on_stderr)])
        return session

    def start_script(
        self,
        cwd: Path,
        env: Mapping[str, str],
        on_stdout: OnData,
        on_stderr: OnData,
        on_exit: OnExit,
        *,
        user: str = "",
        target: str = "",
        launcher: Launcher | None = None,
    ) -> Session:
        """A shell without a terminal, running what is written to it; ends with the status of
        the last command it ran (``printf 'make test\\n' | rig shell``)."""
        return self.start_command(
            f"exec {shell_path()} -s",
            cwd,
            env,
            on_stdout,
            on_stderr,
            on_exit,
            user=user,
            target=target,
            kind="shell",
            shown="(script on stdin)",
            launcher=launcher,
        )

    def start_shell(
        self,
        cwd: Path,
        env: Mapping[str, str],
        cols: int,
        rows: int,
        on_output: OnData,
        on_exit: OnExit,
        idle_timeout: float | None = None,
        *,
        user: str = "",
        target: str = "",
        term: str = "xterm-256color",
        launcher: Launcher | None = None,
    ) -> ShellSession:
        """An interactive shell on a new pseudo-terminal of ``cols`` x ``rows``, ended after
        ``idle_timeout`` seconds (at most the manager's) without input or output."""
        master, slave = os.openpty()
        try:
            set_size(slave, cols, rows)
            shell = shell_path()
            bash = shell.endswith("bash")
            proc, info = self._spawn(
                [shell, "--noprofile", "--norc", "-i"] if bash else [shell, "-i"],
                cwd,
                {**env, "TERM": term},
                user=user,
                target=target,
                kind="shell",
                shown="(interactive)",
                launcher=launcher,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                preexec_fn=_take_terminal,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        idle = min(idle_timeout or self.idle_timeout, self.idle_timeout)
        session = ShellSession(proc, info, on_exit, self._forget, master, on_output, idle)
        self._add(session, [(master, on_output)])
        return session

    def live(self, user: str | None = None) -> list[SessionInfo]:
        with self._lock:
            sessions = [s.info for s in self._live.values() if user is None or s.info.user == user]
        return sorted(sessions, key=lambda info: (info.started_at, info.id))

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            return self._live.get(session_id)

    def close(self, timeout: float = 2 * GRACE) -> None:
        """End every session now (the platform is stopping) and wait for them to be gone."""
        with self._lock:
            sessions = list(self._live.values())
        for session in sessions:
            session.kill("shutdown", signal.SIGKILL)
        for session in sessions:
            session.wait(timeout)

    def _check_quota(self, user: str) -> None:
        if len(self.live(user)) >= self.max_per_user:
            raise TooManySessions(f"at most {self.max_per_user} sessions at once per user")

    def _spawn(
        self,
        argv: list[str],
        cwd: Path,
        env: Mapping[str, str],
        *,
        user: str,
        target: str,
        kind: str,
        shown: str,
        launcher: Launcher | None = None,
        **popen: Any,
    ) -> tuple[subprocess.Popen[bytes], SessionInfo]:
        """Within the user's quota, start ``argv`` as the leader of a new session (so that its
        whole process group can be signalled), with the registry's record of it."""
        self._check_quota(user)
        proc = (launcher or launch)(argv, cwd, env, **popen)
        info = SessionInfo(secrets.token_hex(6), user, target, kind, shown, utc_now(), proc.pid)
        return proc, info

    def _add(self, session: Session, sources: list[tuple[int, OnData]]) -> None:
        with self._lock:
            self._live[session.info.id] = session
        session.begin(sources)

    def _forget(self, session: Session) -> None:
        with self._lock:
            self._live.pop(session.info.id, None)


def shell_path() -> str:
    return shutil.which("bash", path="/bin:/usr/bin") or "/bin/sh"


def set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _take_terminal() -> None:
    """In the child, already a session leader: make the terminal on stdin its controlling one."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
