"""What the deploy fault tests share: a source directory, a rig deploy in the background,
and the platform-side checks that nothing is left half done."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.deploy.conftest import Api
from tests.reliability.terminal import TerminalRun, in_terminal
from tests.support.cli import Rig, base_env
from tests.support.platform import Platform

PY = sys.executable
TERMINAL = ("active", "failed", "superseded")

# Sleeps START_DELAY seconds before listening, so the release stays "starting" for a while.
WEB = """\
import http.server, os, time
time.sleep(float(os.environ.get("START_DELAY", "0")))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def source(
    directory: Path,
    *,
    blob_mib: int = 0,
    files: int = 0,
    build: str | None = None,
    start_delay: float = 0,
) -> Path:
    """An app directory: a web process, optionally a slow build, random bytes to upload."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app.py").write_text(WEB)
    delay = f"START_DELAY={start_delay} " if start_delay else ""
    # The release's own python3: a sandboxed app cannot see the test run's interpreter.
    (directory / "Procfile").write_text(f"web: env {delay}python3 app.py\n")
    if build is not None:
        (directory / "rig.toml").write_text(f"build = {build!r}\n")
    if blob_mib:
        (directory / "blob.bin").write_bytes(os.urandom(blob_mib * 1024 * 1024))
    for i in range(files):
        sub = directory / "many" / f"d{i % 50}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i}.bin").write_bytes(os.urandom(20_000))
    return directory


def start_deploy(
    rig: Rig, path: Path, tmpdir: Path, *args: str, stderr: Path | None = None
) -> TerminalRun:
    """``rig deploy PATH --app api --network shop ARGS`` running in a terminal, its TMPDIR
    ``tmpdir``; its stderr to the file ``stderr`` if given (``2>FILE``), else the terminal."""
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = {**base_env(rig.config_dir), **rig.env, "TMPDIR": str(tmpdir)}
    argv = [PY, "-m", "rig", "deploy", str(path), "--app", "api", "--network", "shop", *args]
    return in_terminal(argv, env, stderr=stderr)


def wait_until(condition: Callable[[], object], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def partial_uploads(platform: Platform) -> list[Path]:
    return list((platform.data_dir / "artifacts").glob("*/*/*.partial"))


def temp_archives(tmpdir: Path) -> list[Path]:
    return list(tmpdir.glob("rig-deploy-*"))


def releases(api: Api) -> list[dict[str, Any]]:
    response = api.http.get("/networks/shop/apps/api/releases")
    assert response.status_code == 200, response.text
    return list(response.json())


def settled(api: Api, timeout: float = 40) -> list[dict[str, Any]]:
    """The releases once none is pending, building or starting."""
    wait_until(
        lambda: all(r["status"] in TERMINAL for r in releases(api)), timeout, "releases to settle"
    )
    return releases(api)


def release_in(api: Api, status: str) -> bool:
    return any(r["status"] == status for r in releases(api))
