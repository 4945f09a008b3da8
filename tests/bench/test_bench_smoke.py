"""The benchmark suite's smoke run, so that it cannot rot: every figure measured, none enforced."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bench import quick_bench


@pytest.mark.slow
@pytest.mark.alone  # the bench times what it runs
@pytest.mark.timeout(300)
def test_quick_bench_measures_every_figure(tmp_path: Path) -> None:
    report, printed = quick_bench(tmp_path)
    names = [f["name"] for f in report["figures"]]
    assert report["quick"] is True
    assert "rig --version" in names and "shell: time to first prompt" in names
    for f in report["figures"]:
        measured = f["value"] is not None
        assert measured or f["note"].startswith("not measurable yet"), f
        assert measured or not f["passed"], f
    assert "figure" in printed and "targets met" in printed
