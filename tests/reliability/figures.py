"""The figures the reliability suite reports: faults survived, inputs tried, probes, leaks.

Tests count what they do through the ``figures`` fixture; when
``RIG_RELIABILITY_FIGURES`` names a file, the session writes the totals there as
JSON (``scripts/reliability-report`` turns them into docs/reliability.md).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FIGURES_ENV = "RIG_RELIABILITY_FIGURES"


class Figures:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.values: dict[str, Any] = {}
        self.outcomes: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def set(self, name: str, value: Any) -> None:
        self.values[name] = value

    @contextmanager
    def fault(self, kind: str) -> Iterator[None]:
        """Count a fault injected, and survived when the block's checks pass."""
        self.add("faults_injected")
        self.add(f"fault:{kind}")
        yield
        self.add("faults_survived")

    def to_json(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "values": self.values, "tests": dict(self.outcomes)}

    def write(self) -> None:
        target = os.environ.get(FIGURES_ENV)
        if target:
            Path(target).write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")


FIGURES = Figures()
