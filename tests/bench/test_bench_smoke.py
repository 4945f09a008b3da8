"""The benchmark suite's smoke run, so that it cannot rot: every figure measured, none enforced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.alone  # the bench times what it runs
@pytest.mark.timeout(300)
def test_quick_bench_measures_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    names = [f["name"] for f in report["figures"]]
    assert report["quick"] is True
    assert "rig --version" in names and "shell: time to first prompt" in names
    for f in report["figures"]:
        measured = f["value"] is not None
        assert measured or f["note"].startswith("not measurable yet"), f
        assert measured or not f["passed"], f
    assert "figure" in proc.stdout and "targets met" in proc.stdout
