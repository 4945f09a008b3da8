"""Runs a transcript in a fresh shell against a fresh local platform and reports the differences.

Each transcript gets its own config, state and platform data directories.
With the default setup, ``rig local start --port 0`` starts a platform and
logs in as its admin under the context ``local`` (the onboarding path); with
``setup: none`` nothing is started and nobody is logged in.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rig.repl.transcript import Step, Transcript, matches, normalize, parse

CLEARED_ENV = ("RIG_CONTEXT", "RIG_API", "RIG_TOKEN", "XDG_STATE_HOME", "RIG_DEBUG")


@dataclass
class Mismatch:
    step: Step
    actual_prompt: str
    actual: str

    def report(self, path: Path | None) -> str:
        where = f"{path}:{self.step.lineno}" if path else f"line {self.step.lineno}"
        if self.actual_prompt != self.step.prompt:
            return (
                f"{where}: before `{self.step.line}` the prompt was {self.actual_prompt!r}, "
                f"the transcript expects {self.step.prompt!r}"
            )
        diff = difflib.unified_diff(
            normalize(self.step.expected).splitlines(),
            normalize(self.actual).splitlines(),
            "expected",
            "actual",
            lineterm="",
        )
        return f"{where}: output of `{self.step.line}` differs:\n" + "\n".join(diff)


class TranscriptFailed(AssertionError):
    pass


def run_file(path: Path, workdir: Path) -> None:
    """Run the transcript at ``path``; raise TranscriptFailed with a readable diff on mismatch."""
    transcript = parse(path.read_text(encoding="utf-8"), path)
    mismatch = run(transcript, workdir)
    if mismatch is not None:
        raise TranscriptFailed(mismatch.report(path))


def run(transcript: Transcript, workdir: Path) -> Mismatch | None:
    env = {
        "RIG_CONFIG_DIR": str(workdir / "config"),
        "RIG_STATE_DIR": str(workdir / "state"),
        "RIG_LOCAL_DATA": str(workdir / "platform"),
        "RIG_CREDENTIAL_STORE": "file",
        "NO_COLOR": "1",
    }
    with patched_env(env), local_platform(transcript.setup, workdir / "platform"):
        return play(transcript)


def play(transcript: Transcript) -> Mismatch | None:
    """Run the steps in one shell; the first step whose prompt or output differs, or None."""
    from rig.repl.shell import RigShell

    buffer = io.StringIO()
    shell = RigShell(stdin=io.StringIO(), stdout=buffer, stderr=buffer, background=False)
    try:
        for step in transcript.steps:
            prompt = shell.prompt
            buffer.seek(0)
            buffer.truncate()
            with contextlib.redirect_stderr(buffer):
                shell.onecmd_plus_hooks(step.line)
            if prompt != step.prompt or not matches(step.expected, buffer.getvalue()):
                return Mismatch(step, prompt, buffer.getvalue())
    finally:
        shell.postloop()
    return None


@contextlib.contextmanager
def patched_env(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    for name in CLEARED_ENV:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def local_platform(setup: str, data_dir: Path) -> Iterator[None]:
    if setup == "none":
        yield
        return
    if setup != "local":
        raise TranscriptFailed(f"unknown setup {setup!r} (use `setup: local` or `setup: none`)")
    rig(["local", "start", "--port", "0", "--data", str(data_dir)])
    try:
        yield
    finally:
        rig(["local", "stop", "--data", str(data_dir)])


def rig(args: list[str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "rig", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
        timeout=60,
    )
    if proc.returncode != 0:
        raise TranscriptFailed(f"`rig {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc.stdout
