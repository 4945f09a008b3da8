"""rig as a user installed it (the wheel in a tool venv, the single file, the bundle, the .deb):
run from a clean home with no checkout on the path, and the artefacts built once per test run
by the script a release uses (scripts/build-dist)."""

from __future__ import annotations

import fcntl
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pexpect
import pytest

from tests.support.cli import ROOT, Run, base_env


@dataclass
class Client:
    """An installed rig: ``argv`` starts it (``[path/to/rig]``), ``home`` is its user's home."""

    argv: list[str]
    home: Path
    path: list[str] = field(default_factory=list)  # directories before /usr/bin:/bin

    def env(self, **extra: str) -> dict[str, str]:
        """No checkout on the path: the installed rig runs, not the one in this repository."""
        env = base_env(self.home / "config")
        env.pop("PYTHONPATH", None)
        env.update(HOME=str(self.home), PATH=os.pathsep.join([*self.path, "/usr/bin", "/bin"]))
        env.update(extra)
        return env

    def __call__(self, *args: str, input: str | None = None, cwd: Path | None = None) -> Run:
        done = subprocess.run(
            [*self.argv, *args],
            env=self.env(),
            cwd=cwd or self.home,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Run(list(args), done.returncode, done.stdout, done.stderr)

    def shell(self) -> pexpect.spawn:
        """The shell on a pseudo-terminal, as a user starts it."""
        return pexpect.spawn(
            self.argv[0], self.argv[1:], env=self.env(), cwd=str(self.home), encoding="utf-8",
            timeout=60, dimensions=(40, 120),
        )  # fmt: skip


def build_dist(factory: pytest.TempPathFactory, *kinds: str) -> list[Path]:
    """``scripts/build-dist KIND...`` once per test run, however many xdist workers ask: the
    first builds under a lock into the run's temporary root, the others wait and reuse it."""
    base = factory.getbasetemp()
    run_root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out = run_root / ("dist-" + "-".join(kinds))
    out.mkdir(exist_ok=True)
    with (out / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = out / ".built"
        if not done.exists():
            built = subprocess.run(
                [str(ROOT / "scripts" / "build-dist"), "--out", str(out), *kinds],
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert built.returncode == 0, built.stderr[-4000:]
            done.write_text(built.stdout)
        return [Path(line) for line in done.read_text().splitlines()]
