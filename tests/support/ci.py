"""What a run under ``CI=true`` may not hide: reruns past a small number, and skips.

``./test`` runs a failing test once more (pytest-rerunfailures). A test that then passes is
listed with its first failure in full, always; under ``CI=true`` the run fails when more than
``MAX_RERUNS`` tests needed a rerun, since a bug that shows up one time in ten would
otherwise stay green. A skip under ``CI=true`` fails the run too (CI is the machine that has
every tool the suite needs, so a skip there is a test that did not run), unless the test
carries ``@pytest.mark.allow_skip(reason=...)``; the reason is printed with the skip.

Works with and without pytest-xdist: the reports are counted where they arrive (the
controller under xdist), and the marker travels in the report's ``user_properties``.
"""

from __future__ import annotations

import os

import pytest

MAX_RERUNS = 2
MARKER = "allow_skip"
_PROPERTY = "rig-allow-skip"


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


class Accounting:
    """Collects reruns and skips, fails the session under CI, and says why."""

    def __init__(self, ci: bool) -> None:
        self.ci = ci
        self.reruns: list[pytest.TestReport] = []
        self.skips: list[tuple[str, str]] = []  # (test, skip reason): not allowed
        self.allowed: list[tuple[str, str, str]] = []  # (test, skip reason, why allowed)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker(MARKER)
            if marker is not None:
                reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
                assert reason, f"{item.nodeid}: @pytest.mark.{MARKER} needs a reason"
                item.user_properties.append((_PROPERTY, str(reason)))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.outcome == "rerun":
            self.reruns.append(report)
        elif report.skipped and not hasattr(report, "wasxfail"):
            allowed = dict(report.user_properties).get(_PROPERTY)
            if allowed is None:
                self.skips.append((report.nodeid, skip_reason(report)))
            else:
                self.allowed.append((report.nodeid, skip_reason(report), str(allowed)))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:  # a whole module skipped at import: never allowed
            self.skips.append((report.nodeid, skip_reason(report)))

    def problems(self) -> list[str]:
        """Why the run fails under CI (nothing outside CI)."""
        if not self.ci:
            return []
        wrong = []
        rerun = sorted({report.nodeid for report in self.reruns})
        if len(rerun) > MAX_RERUNS:
            wrong.append(
                f"{len(rerun)} tests needed a rerun, more than the {MAX_RERUNS} allowed "
                f"under CI: {', '.join(rerun)}"
            )
        wrong += [
            f"skipped under CI: {test}: {reason} (mark it @pytest.mark.{MARKER}(reason=...) "
            "if it may skip)"
            for test, reason in self.skips
        ]
        return wrong

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):  # an xdist worker: the controller counts
            return
        if self.problems() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        write = terminalreporter.write_line
        if self.reruns:
            terminalreporter.section("failures that passed on a rerun: flaky, to be fixed")
            for report in self.reruns:
                write(f"{report.nodeid} ({report.when})", bold=True)
                write(report.longreprtext)
        if self.allowed:
            terminalreporter.section("skips allowed by @pytest.mark.allow_skip")
            for test, reason, why in self.allowed:
                write(f"{test}: {reason} (allowed: {why})")
        if self.skips and not self.ci:
            terminalreporter.section("skipped (these fail the run under CI=true)")
            for test, reason in self.skips:
                write(f"{test}: {reason}")
        problems = self.problems()
        if problems:
            terminalreporter.section("CI=true: this run fails", red=True)
            for problem in problems:
                write(f"ci: {problem}", red=True)


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_configure(config: pytest.Config) -> None:
    """Registers the accounting (``-p tests.support.ci``, or from tests/conftest.py)."""
    config.addinivalue_line(
        "markers", f"{MARKER}(reason): the test may skip under CI=true; the reason is printed"
    )
    if not config.pluginmanager.has_plugin("rig-ci-accounting"):
        config.pluginmanager.register(Accounting(under_ci()), "rig-ci-accounting")
