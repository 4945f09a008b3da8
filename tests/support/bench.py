"""Running the bench's quick mode from a test, as a user runs ``python -m bench``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def quick_bench(tmp_path: Path, *extra: str) -> tuple[dict[str, Any], str]:
    """``python -m bench --quick [extra]``'s report and what it printed; a bench that
    fails fails the test with its output."""
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *extra, "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads(out.read_text())
    return report, proc.stdout
