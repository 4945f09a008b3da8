"""A local Max platform for the benchmarks: ``maxlocal serve`` on a free port, logged in with rig.

Everything lives in a temporary directory: the platform's data, rig's config (contexts and,
without a keyring, the credentials file) and the shell's state. The environment handed to
commands drops ``PYTHONDONTWRITEBYTECODE`` so they run from byte-compiled modules, as an
installed rig does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NETWORK = "bench"
APP = "web"
EXTRA_APPS = 19  # a listing of 20 apps, as a small real account has
START_TIMEOUT = 30.0
STDIN = ("--password-stdin",)
TTL = ("--access-ttl", "3600")  # no token refresh in the middle of a measurement


def rig_executable() -> str:
    """The ``rig`` console script installed next to this interpreter: what a user runs."""
    return str(Path(sys.executable).with_name("rig"))


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIG_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("NO_COLOR", None)
    env["RIG_NO_UPDATE_CHECK"] = "1"  # the figures time rig, not a daily update check
    env.update(extra)
    return env


@dataclass
class Platform:
    url: str
    email: str
    password: str
    env: dict[str, str]
    root: Path
    token: str = ""
    store: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    runtime: str = "process"

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call with the bench's own session (not rig's), for seeding and references."""
        request = urllib.request.Request(
            f"{self.url}/api/v1{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"}
            | ({"Authorization": f"Bearer {self.token}"} if self.token else {}),
        )
        with urllib.request.urlopen(request, timeout=15) as response:
            raw = response.read()
        return json.loads(raw) if raw else None


def start(isolation: str = "auto", runtime: str = "process") -> Platform:
    """Start a platform, log rig in to it and create a network with a few apps; its tenant
    processes sandboxed as the machine allows, unless ``isolation`` is ``none``; its apps run
    by the ``runtime`` driver (``swarm``: services on the Docker engine)."""
    root = Path(tempfile.mkdtemp(prefix="rig-bench-"))
    data = root / "data"
    env = clean_env(RIG_CONFIG_DIR=str(root / "config"), RIG_STATE_DIR=str(root / "state"))
    log = (root / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "maxlocal", "serve", "--port", "0", "--data", str(data)),
            *(*TTL, "--isolation", isolation, "--runtime", runtime),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        server = _wait_for(data / "server.json", process)
        creds = json.loads((data / "bootstrap.json").read_text())
        platform = Platform(server["url"], creds["email"], creds["password"], env, root)
        platform.process, platform.runtime = process, runtime
        _login(platform)
        _seed(platform)
    except BaseException:
        _stop(process, root)
        raise
    return platform


def stop(platform: Platform) -> None:
    if platform.process is not None:
        if platform.runtime == "swarm":  # its services outlive it by design
            platform.process.terminate()
            platform.process.wait(30)
            from maxlocal.runtime.swarm.driver import remove_platform

            remove_platform(platform.root / "data")
        _stop(platform.process, platform.root)


def _stop(process: subprocess.Popen[bytes], root: Path) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    shutil.rmtree(root, ignore_errors=True)


def _wait_for(path: Path, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"maxlocal serve exited {process.returncode} before it was ready")
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        except (FileNotFoundError, ValueError):
            time.sleep(0.05)
    raise RuntimeError(f"maxlocal serve wrote no {path.name} within {START_TIMEOUT:.0f} s")


def _login(platform: Platform) -> None:
    done = subprocess.run(
        [rig_executable(), "login", "--api", platform.url, "--email", platform.email, *STDIN],
        input=platform.password.encode(),
        env=platform.env,
        capture_output=True,
    )
    if done.returncode:
        log = (platform.root / "serve.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(
            f"rig login exited {done.returncode}: {done.stderr.decode(errors='replace')}\n"
            f"the platform's log ends:\n{log}"
        )
    contexts = json.loads((Path(platform.env["RIG_CONFIG_DIR"]) / "contexts.json").read_text())
    platform.store = contexts["contexts"][contexts["current"]]["store"]
    login = {"email": platform.email, "password": platform.password}
    platform.token = platform.api("POST", "/auth/login", login)["access_token"]


def _seed(platform: Platform) -> None:
    platform.api("POST", "/networks", {"name": NETWORK})
    for name in [APP, *(f"svc-{i:02d}" for i in range(EXTRA_APPS))]:
        platform.api("POST", f"/networks/{NETWORK}/apps", {"name": name})
