"""Background jobs: a command line ending in ``&`` runs in a thread while the prompt stays usable.

A job writes through :class:`JobStream`, which hands complete lines to a sink:
in the background the sink prints them above the prompt prefixed with the job
number, gathered by :class:`Batcher` into one redraw per ``BATCH_SECONDS`` (a
redraw per line garbles the screen under heavy output, prompt-toolkit#681). There is
nothing to print above while a command runs, so the batcher holds its lines until the
prompt is back (``hold``/``release``). ``fg N`` first prints the lines not shown yet,
then switches the job's sink to the terminal and waits: a job's lines keep their order
whichever way they go, and none of its lines turns up above the prompt after ``fg``
(they used to reach the prompt after the foreground lines, even scroll them away).
``kill N``
cancels a job: its next write raises :class:`JobCancelled`, and the cancel
hooks it registered (closing its HTTP client, later unsubscribing its socket
channel) run at once, so a job blocked on I/O ends too.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rig.output.units import counted

RUNNING = "running"
DONE = "done"
FAILED = "failed"
KILLED = "killed"

LineSink = Callable[["Job", str], None]
BATCH_SECONDS = 0.1
MAX_BATCH = 200  # lines per redraw; beyond that the oldest are counted, not printed


class JobCancelled(Exception):
    """Raised inside a job's thread when it writes after ``kill``."""


class JobStream(io.TextIOBase):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self._job = job
        self._partial = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if self._job.cancelled:
            raise JobCancelled
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
        for line in lines:
            self._job.emit(line)
        return len(text)

    def finish(self) -> None:
        with self._lock:
            rest, self._partial = self._partial, ""
        if rest:
            self._job.emit(rest)


@dataclass
class Job:
    id: int
    line: str
    sink: LineSink
    state: str = RUNNING
    exit_code: int | None = None
    started: float = field(default_factory=time.monotonic)
    _cancel: threading.Event = field(default_factory=threading.Event)
    _done: threading.Event = field(default_factory=threading.Event)
    _hooks: list[Callable[[], None]] = field(default_factory=list)
    # Held while a line goes to the sink and while the sink changes or the job is cancelled,
    # so no line is in flight to the old sink (or after the kill) once either returns.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.stdout = JobStream(self)
        self.stderr = JobStream(self)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def running(self) -> bool:
        """False once killed, even while its thread is still unwinding from blocked I/O."""
        return not self._done.is_set() and not self.cancelled

    def emit(self, line: str) -> None:
        with self.lock:
            if not self.cancelled:
                self.sink(self, line)

    def on_cancel(self, hook: Callable[[], None]) -> None:
        self._hooks.append(hook)

    def cancel(self) -> None:
        with self.lock:
            if not self.running:
                return
            self._cancel.set()
            self.state = KILLED
        for hook in list(self._hooks):
            try:
                hook()
            except Exception:  # a failing hook must not stop the others
                continue

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def finish(self, exit_code: int) -> None:
        if not self.cancelled:
            self.stdout.finish()
            self.stderr.finish()
        self.exit_code = exit_code
        self.state = KILLED if self.cancelled else DONE if exit_code == 0 else FAILED
        self._done.set()

    def describe(self) -> str:
        state = f"exit {self.exit_code}" if self.state == FAILED else self.state
        return f"[{self.id}] {state:<8} {self.line}"


JobTarget = Callable[[Job], int]


class Batcher:
    """Collects lines from any thread and hands them to ``notify`` as one text at most every
    ``interval`` seconds, keeping the last ``limit`` of a batch and saying how many were not.

    While held (a command is running, there is no prompt to print above) the lines wait;
    ``take`` hands them to someone who prints them directly instead."""

    def __init__(
        self,
        notify: Callable[[str], None],
        interval: float = BATCH_SECONDS,
        limit: int = MAX_BATCH,
    ) -> None:
        self._notify, self.interval, self.limit = notify, interval, limit
        self._lines: list[str] = []
        self._dropped = 0
        self._held = False
        self._cond = threading.Condition()
        # Held from taking a batch until it is handed on, so batches never overtake each other.
        self.handing = threading.RLock()
        self._thread: threading.Thread | None = None

    def add(self, line: str) -> None:
        with self._cond:
            self._lines.append(line)
            if len(self._lines) > self.limit:
                del self._lines[0]
                self._dropped += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rig-alerts", daemon=True)
                self._thread.start()
            self._cond.notify()

    def hold(self) -> None:
        with self._cond:
            self._held = True

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify()

    def take(self) -> str | None:
        """The waiting lines as one text (None if there are none), no longer waiting."""
        with self._cond:
            lines, dropped = self._lines, self._dropped
            self._lines, self._dropped = [], 0
        if dropped:
            hidden = counted(dropped, "line")
            lines.insert(0, f"-- {hidden} not shown: too many to print above the prompt --")
        return "\n".join(lines) if lines else None

    def flush(self) -> None:
        with self.handing:
            text = self.take()
            if text is not None:
                self._notify(text)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._lines) and not self._held)
            time.sleep(self.interval)
            with self.handing:
                with self._cond:
                    if self._held:
                        continue
                self.flush()


class JobManager:
    """Numbers, runs and tracks jobs. ``notify`` prints a line above the prompt; ``take_back``
    returns the texts handed to ``notify`` that are not on the screen yet and never will be
    (the prompt went away first), for ``fg`` and ``kill`` to print them in order."""

    def __init__(
        self,
        notify: Callable[[str], None],
        take_back: Callable[[], list[str]] = list,
    ) -> None:
        self._batcher = Batcher(notify)
        self._take_back = take_back
        self._notify = self._batcher.add
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def start(
        self, line: str, target: JobTarget, announce: Callable[[str], None] | None = None
    ) -> Job:
        """Run ``target`` as a new job; ``announce`` gets its "[N] line" before the job can
        write anything, so the announcement comes first, as in a POSIX shell."""
        with self._lock:
            job = Job(max(self._jobs, default=0) + 1, line, self._background_line)
            self._jobs[job.id] = job
        if announce is not None:
            announce(f"[{job.id}] {line}")
        thread = threading.Thread(
            target=self._run, args=(job, target), name=f"rig-job-{job.id}", daemon=True
        )
        thread.start()
        self._changed()
        return job

    def _run(self, job: Job, target: JobTarget) -> None:
        try:
            code = target(job)
        except JobCancelled:
            code = 130
        except Exception as exc:  # reported like a command's error, the shell goes on
            if not job.cancelled:
                job.stderr.write(f"rig: internal error: {type(exc).__name__}: {exc}\n")
            code = 1
        job.finish(code)
        with job.lock:  # not while fg takes it over: then fg reports the end
            if job.sink == self._background_line and not job.cancelled:
                self._notify(job.describe())
        self._changed()

    def _background_line(self, job: Job, line: str) -> None:
        self._notify(f"[{job.id}] {line}")

    def jobs(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.id)

    def running(self) -> list[Job]:
        return [job for job in self.jobs() if job.running]

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def forget_finished(self) -> None:
        """Drop finished jobs once they have been listed, as shells do."""
        with self._lock:
            self._jobs = {i: j for i, j in self._jobs.items() if j.running}

    def kill(self, job: Job, write_line: Callable[[str], None] | None = None) -> None:
        """Cancel the job; with ``write_line``, print the lines it wrote before at once, so none
        of them turns up after the kill is reported."""
        job.cancel()  # no line of it is on its way once this returns
        job.wait(0.5)
        if write_line is not None:
            self.print_waiting(write_line)
        self._changed()

    def foreground(self, job: Job, write_line: Callable[[str], None]) -> None:
        """Print the lines not shown yet and the job's line, then the job's lines directly as
        they come; wait for it. Ctrl+C kills it."""
        try:
            with job.lock:  # no line of the job in flight meanwhile
                self.print_waiting(write_line)
                write_line(job.line)
                job.sink = lambda _job, line: write_line(line)
            while not job.wait(0.1):
                pass
        except KeyboardInterrupt:
            self.kill(job)
            raise
        finally:
            self._changed()

    def hold(self) -> None:
        """A command runs: keep background lines until ``release`` (the prompt is back)."""
        self._batcher.hold()

    def release(self) -> None:
        self._batcher.release()

    def print_waiting(self, write_line: Callable[[str], None]) -> None:
        """Print, directly and in order, background lines not on the screen yet: handed on but
        not shown, then still in the batch."""
        with self._batcher.handing:
            texts = [*self._take_back(), self._batcher.take()]
            for text in texts:
                if text is not None:
                    write_line(text)

    def flush(self) -> None:
        """Print the lines still waiting for the next batch."""
        self._batcher.flush()

    def cancel_all(self) -> None:
        for job in self.running():
            job.cancel()

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()
