"""How the reliability report counts (tests/reliability/figures.py, report.py): a fault is
survived only by checks that held, never by a block that merely did not raise (issue 21,
item 4), and a run whose counts fall below their stated minimums fails."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.reliability.figures import IN_PROCESS, TERMINAL, Figures
from tests.reliability.report import MINIMUMS, failures


def test_a_fault_that_asserts_nothing_is_not_survived() -> None:
    figures = Figures()
    with figures.fault("quiet", TERMINAL):
        pass  # did not raise: the old rule counted this as survived
    assert figures.counts["faults_injected"] == 1
    assert figures.counts["faults_survived"] == 0
    assert "some injected faults were not survived" in failures(passing(figures))


def test_a_check_that_did_not_hold_fails_the_test_and_the_count() -> None:
    figures = Figures()
    refused = pytest.raises(AssertionError, match="wrong: exit code 130 did not hold: 1")
    with refused, figures.fault("wrong", IN_PROCESS) as fault:
        fault.exit_code(130, 130)
        fault.exit_code(1, 130)
    assert figures.counts["faults_survived"] == 0
    assert figures.counts["faults_in_process"] == 1
    assert figures.faults["wrong"] == {
        "where": IN_PROCESS,
        "injected": 1,
        "survived": 0,
        "checks": ["exit code 130"],
    }


def test_a_fault_whose_checks_all_held_is_survived() -> None:
    figures = Figures()
    with figures.fault("fine", TERMINAL) as fault:
        line = fault.one_clear_line("\nrig: interrupted\n", prefix="rig: ")
        fault.state_intact(True)
    assert line == "rig: interrupted"
    assert figures.counts["faults_survived"] == figures.counts["faults_injected"] == 1
    assert figures.counts["faults_in_process"] == 0


def passing(figures: Figures) -> dict[str, Any]:
    """``figures`` with every minimum met, so that only what the test did shows."""
    data = copy.deepcopy(figures.to_json())
    for name, (minimum, _) in MINIMUMS.items():
        data["counts"][name] = max(minimum, data["counts"].get(name, 0))
    return data


def test_a_count_below_its_minimum_fails_the_report() -> None:
    figures = Figures()
    with figures.fault("fine", TERMINAL) as fault:
        fault.state_intact(True)
    data = passing(figures)
    data["counts"]["faults_injected"] = data["counts"]["faults_survived"] = 108
    assert failures(data) == []
    data["counts"]["secret_exposure_checks"] = MINIMUMS["secret_exposure_checks"][0] - 1
    (problem,) = failures(data)
    assert problem.startswith("secret_exposure_checks = 40, fewer than its minimum 41")
    del data["counts"]["lines_followed"]  # the follow test did not run at all
    assert any(p.startswith("lines_followed = 0, fewer than") for p in failures(data))
