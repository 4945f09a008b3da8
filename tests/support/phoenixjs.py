"""The official phoenix.js client (npm ``phoenix``), installed on first use for interop tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

JS = Path(__file__).resolve().parents[1] / "realtime" / "js"


def node_client() -> str:
    """The path of ``node``, with tests/realtime/js/node_modules installed (``npm ci``)."""
    if not (JS / "node_modules" / "phoenix").is_dir():
        npm = shutil.which("npm")
        assert npm, "npm is needed (scripts/install-system-deps installs it)"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=300)
    node = shutil.which("node")
    assert node, "node is needed (scripts/install-system-deps installs it)"
    return node
