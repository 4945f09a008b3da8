"""docs/getting-started.md, followed as a new user would: its `sh` blocks run in order, in one
shell, with a fresh home, config and data directory. The one change: the platform gets a free
port (`rig local start --port 0`) so that the test never collides with another platform."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from tests.support.cli import ROOT, base_env

GUIDE = ROOT / "docs" / "getting-started.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.S | re.M)


def guide_script() -> str:
    blocks = BLOCK.findall(GUIDE.read_text())
    assert len(blocks) >= 5
    script = "\n".join(blocks)
    assert script.count("rig local start\n") == 1
    return "set -euo pipefail\n" + script.replace("rig local start\n", "rig local start --port 0\n")


def test_the_getting_started_guide_works_to_the_end(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = base_env(tmp_path / "config")
    env.update(HOME=str(home), RIG_LOCAL_DATA=str(tmp_path / "data"))
    env.pop("XDG_CONFIG_HOME", None)
    env.pop("VIRTUAL_ENV", None)
    started = time.monotonic()
    try:
        run = subprocess.run(
            ["bash", "-c", guide_script()],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "rig"), "local", "stop"],
            env=env,
            capture_output=True,
            timeout=30,
        )
    took = time.monotonic() - started
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert "Hello from Max" in run.stdout and "Howdy from Max" in run.stdout, run.stdout
    assert "No drift" in run.stdout
    assert (home / "hello" / "rig.toml").exists() and (home / "hello" / "hello.yaml").exists()
    assert took < 120, f"the guide took {took:.0f} s"
    assert not os.path.exists(tmp_path / "data" / "server.json")
