"""rig in a real pseudo-terminal (pexpect), as a user runs it, for the faults that end or
interrupt it: Ctrl+C there is the terminal's ^C, which the kernel turns into SIGINT for the
terminal's foreground process group, not a signal sent to one process."""

from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass
from pathlib import Path

import pexpect

from tests.support.cli import ROOT


@dataclass
class TerminalRun:
    """A command running on a terminal of its own; ``interrupt`` types Ctrl+C."""

    child: pexpect.spawn
    stderr: Path | None  # where stderr went, when not to the terminal
    reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        # The terminal is read all along, as a terminal would be: a full one blocks rig.
        self.reader = threading.Thread(
            target=lambda: self.child.expect(pexpect.EOF, timeout=None), daemon=True
        )
        self.reader.start()

    def interrupt(self) -> None:
        self.child.sendintr()

    def finish(self, timeout: float = 90) -> tuple[int, str, str]:
        """(exit code, what the terminal showed, stderr when it went to a file)."""
        assert self.reader is not None
        self.reader.join(timeout)
        if self.reader.is_alive():
            self.child.terminate(force=True)
            raise AssertionError(f"{self.child.args} did not end within {timeout:g} s")
        self.child.close()
        code = self.child.exitstatus
        if code is None:
            code = 128 + int(self.child.signalstatus or 0)
        shown = str(self.child.before or "").replace("\r\n", "\n")
        err = self.stderr.read_text() if self.stderr is not None else ""
        return code, shown, err


def in_terminal(
    argv: list[str], env: dict[str, str], *, stdout: Path | None = None, stderr: Path | None = None
) -> TerminalRun:
    """``argv`` on a new pseudo-terminal (``TERM=xterm``, 24x100), its stdout and stderr
    redirected to files where given (``>FILE``, ``2>FILE``), else on the terminal."""
    command = shlex.join(argv)
    command += f" >{shlex.quote(str(stdout))}" if stdout else ""
    command += f" 2>{shlex.quote(str(stderr))}" if stderr else ""
    child = pexpect.spawn(
        "/bin/sh", ["-c", f"exec {command}"], env={**env, "TERM": "xterm"}, cwd=str(ROOT),
        encoding="utf-8", timeout=90, dimensions=(24, 100),
    )  # fmt: skip
    return TerminalRun(child, stderr)
