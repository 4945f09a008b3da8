"""The terminal tests' setup: a user logged in to a fresh platform, network shop, app api."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.platform import Platform

ROOT = Path(__file__).resolve().parents[2]
SOCKET_ONLY = ["-m", "tests.terminal.socket_only"]  # rig whose shell never polls for names


@pytest.fixture
def env(tmp_path: Path, platform: Platform) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIG_")}
    env.update(
        RIG_CONFIG_DIR=str(tmp_path / "config"),
        RIG_STATE_DIR=str(tmp_path / "state"),
        RIG_CREDENTIAL_STORE="file",
        RIG_NO_UPDATE_CHECK="1",  # loopback only (rig/update.py)
        TERM="xterm",
        PROMPT_TOOLKIT_NO_CPR="1",
    )
    token = platform.add_user("dev@example.com")["token"]
    rig(env, "login", "--api", platform.url, "--token", token, "--context", "dev")
    rig(env, "create", "network", "shop")
    rig(env, "create", "app", "api", "--network", "shop")
    return env


def rig(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "rig", *args], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
