"""The CI accounting (tests/support/ci.py) run on planted tests in a separate pytest: reruns
past the stated number and skips fail a run under CI=true, an allowed skip says why."""

from __future__ import annotations

import pytest

from tests.support.ci import MAX_RERUNS
from tests.support.cli import ROOT

pytest_plugins = ["pytester"]

# Fails on its first run and passes on the second: the state lives in a file.
ONCE_FAILING = """
import pathlib

def test_flaky_{n}():
    mark = pathlib.Path(__file__).with_name("ran-{n}")
    first = not mark.exists()
    mark.touch()
    assert not first, "fails the first time only"
"""
SKIPPING = """
import pytest

def test_passes():
    pass

def test_skips():
    pytest.skip("the tool is missing")
"""
ALLOWED = """
import pytest

@pytest.mark.allow_skip(reason="needs a GPU, which CI machines do not have")
def test_skips_allowed():
    pytest.skip("no GPU here")
"""


def run(pytester: pytest.Pytester, ci: bool, *args: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\n")  # not the project's settings (coverage, timeouts)
    env = {"PYTHONPATH": str(ROOT), "CI": "true" if ci else "false"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return pytester.runpytest_subprocess(
            "-p", "tests.support.ci", "-p", "no:cacheprovider", "--reruns", "1", *args
        )


def planted_flaky(pytester: pytest.Pytester, count: int) -> None:
    pytester.makepyfile(**{f"test_flaky_{n}": ONCE_FAILING.format(n=n) for n in range(count)})


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_more_reruns_than_allowed_fail_the_run_under_ci_and_each_is_listed(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    planted_flaky(pytester, MAX_RERUNS + 1)
    result = run(pytester, True, *workers)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    assert result.parseoutcomes() == {"passed": MAX_RERUNS + 1, "rerun": MAX_RERUNS + 1}
    flaky = ", ".join(f"test_flaky_{n}.py::test_flaky_{n}" for n in range(MAX_RERUNS + 1))
    result.stdout.fnmatch_lines(
        [
            "*failures that passed on a rerun*",
            f"ci: {MAX_RERUNS + 1} tests needed a rerun, more than the {MAX_RERUNS} allowed "
            f"under CI: {flaky}",
        ]
    )


def test_reruns_within_the_allowance_pass_under_ci_and_are_listed(
    pytester: pytest.Pytester,
) -> None:
    planted_flaky(pytester, 1)
    result = run(pytester, True)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["*failures that passed on a rerun*", "test_flaky_0.py::test_flaky_0 (call)", "*first*"]
    )


def test_the_same_reruns_pass_outside_ci(pytester: pytest.Pytester) -> None:
    planted_flaky(pytester, MAX_RERUNS + 1)
    result = run(pytester, False)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["*failures that passed on a rerun*"])


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_skip_fails_the_run_under_ci(pytester: pytest.Pytester, workers: list[str]) -> None:
    pytester.makepyfile(test_skipping=SKIPPING)
    result = run(pytester, True, *workers)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["ci: skipped under CI: test_skipping.py::test_skips: the tool is missing*"]
    )
    assert run(pytester, False).ret == pytest.ExitCode.OK


def test_a_module_skipped_at_import_fails_the_run_under_ci(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_gone="import pytest\npytest.importorskip('no_such_module_here')\n")
    result = run(pytester, True)
    assert result.ret != pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["ci: skipped under CI: test_gone.py:*no_such_module_here*"])


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_an_allowed_skip_passes_under_ci_with_its_reason_printed(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    pytester.makepyfile(test_allowed=ALLOWED)
    result = run(pytester, True, *workers)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*skips allowed by @pytest.mark.allow_skip*",
            "test_allowed.py::test_skips_allowed: no GPU here "
            "(allowed: needs a GPU, which CI machines do not have)",
        ]
    )
