from __future__ import annotations

import pytest

from tests.reliability.figures import FIGURES, Figures


@pytest.fixture
def figures() -> Figures:
    """The suite's counters (tests/reliability/figures.py)."""
    return FIGURES


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/reliability/" not in report.nodeid:
        return
    if report.when == "call" or report.outcome != "passed":
        FIGURES.outcomes[report.outcome] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    worker = getattr(session.config, "workerinput", {}).get("workerid")
    FIGURES.write(worker)
