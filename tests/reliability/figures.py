"""The figures the reliability suite reports: faults survived, inputs tried, probes, leaks.

A fault is counted as survived from what was asserted of it (``Fault.held``: the exit code,
one clear line, the state intact), per fault, and labelled with where rig ran (``WHERE``).

Tests count what they do through the ``figures`` fixture; when
``RIG_RELIABILITY_FIGURES`` names a file, the session writes the totals there as
JSON (``scripts/reliability-report`` turns them into docs/reliability.md).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FIGURES_ENV = "RIG_RELIABILITY_FIGURES"


# Where a fault's rig runs, as the report labels it.
TERMINAL = "process in a terminal"  # its own process on a pseudo-terminal (pexpect)
PROCESS = "process"  # its own process, on pipes
IN_PROCESS = "in-process"  # rig's main() in the test's process: faster, but not a real exit
PLATFORM = "platform only"  # the fault is the platform's, met over HTTP
WHERE = (TERMINAL, PROCESS, IN_PROCESS, PLATFORM)


class Fault:
    """One injected fault and what it was asserted to do. Each ``held`` check is recorded
    and fails the test when it did not hold; the fault counts as survived only when it
    recorded at least one check and every check held (a block that merely did not raise
    is not enough)."""

    def __init__(self, kind: str, where: str) -> None:
        assert where in WHERE, where
        self.kind, self.where = kind, where
        self.checks: dict[str, bool] = {}
        self.raised = False

    def held(self, behaviour: str, ok: bool, detail: object = "") -> None:
        self.checks[behaviour] = self.checks.get(behaviour, True) and ok
        assert ok, f"{self.kind}: {behaviour} did not hold: {detail}"

    def exit_code(self, got: int, *expected: int, detail: object = "") -> None:
        self.held(f"exit code {'/'.join(map(str, expected))}", got in expected, detail or got)

    def one_clear_line(self, text: str, *, prefix: str = "") -> str:
        """The one non-blank line of ``text`` (stderr), with no traceback."""
        lines = [line for line in text.strip().splitlines() if line.strip()]
        ok = len(lines) == 1 and "Traceback" not in text and lines[0].startswith(prefix)
        self.held("one clear line", ok, text)
        return lines[0]

    def state_intact(self, ok: bool, detail: object = "") -> None:
        self.held("state intact", ok, detail)

    @property
    def survived(self) -> bool:
        return bool(self.checks) and all(self.checks.values()) and not self.raised


class Figures:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.values: dict[str, Any] = {}
        self.outcomes: Counter[str] = Counter()
        self.faults: dict[str, dict[str, Any]] = {}

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def set(self, name: str, value: Any) -> None:
        self.values[name] = value

    @contextmanager
    def fault(self, kind: str, where: str) -> Iterator[Fault]:
        """Inject a fault of ``kind``; the block records its checks on the ``Fault``."""
        fault = Fault(kind, where)
        try:
            yield fault
        except BaseException:
            fault.raised = True
            raise
        finally:
            self._count(fault)

    def _count(self, fault: Fault) -> None:
        self.add("faults_injected")
        self.add("faults_survived", int(fault.survived))
        self.add("faults_in_process", int(fault.where == IN_PROCESS))
        self._add_fault(fault.kind, fault.where, 1, int(fault.survived), fault.checks)

    def _add_fault(
        self, kind: str, where: str, injected: int, survived: int, checks: Iterable[str]
    ) -> None:
        entry = self.faults.setdefault(
            kind, {"where": where, "injected": 0, "survived": 0, "checks": []}
        )
        entry["injected"] += injected
        entry["survived"] += survived
        entry["checks"] = sorted(set(entry["checks"]) | set(checks))

    def to_json(self) -> dict[str, Any]:
        values = {**self.values, "faults": self.faults}
        return {"counts": dict(self.counts), "values": values, "tests": dict(self.outcomes)}

    def write(self, worker: str | None = None) -> None:
        """Write the totals to ``$RIG_RELIABILITY_FIGURES``. Under xdist each ``worker``
        writes its own part beside it, and the controller (``worker`` None) adds the parts
        to what it saw itself: the test outcomes, which xdist reports to the controller."""
        target = os.environ.get(FIGURES_ENV)
        if not target:
            return
        if worker is not None:
            part = {**self.to_json(), "tests": {}}  # outcomes: the controller's
            Path(f"{target}.{worker}").write_text(json.dumps(part))
            return
        for found in sorted(Path(target).parent.glob(f"{Path(target).name}.*")):
            self.merge(json.loads(found.read_text()))
            found.unlink()
        Path(target).write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")

    def merge(self, part: dict[str, Any]) -> None:
        """Add another process's figures to these."""
        self.counts.update(part["counts"])
        values = dict(part["values"])
        for kind, entry in values.pop("faults", {}).items():
            self._add_fault(
                kind, entry["where"], entry["injected"], entry["survived"], entry["checks"]
            )
        self.values.update(values)
        self.outcomes.update(part["tests"])


FIGURES = Figures()
