"""A real maxlocal server in a subprocess, for tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # a wait, not a target: a loaded machine may take long to import
STOP_TIMEOUT = 5.0


class PlatformError(RuntimeError):
    pass


class Platform:
    """A maxlocal server on a free loopback port, with its own data directory.

    `options` become command-line flags: ``access_ttl=1`` -> ``--access-ttl 1``.
    """

    def __init__(self, data_dir: Path, **options: Any) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.url = ""

    def command(self, port: int) -> list[str]:
        args = [sys.executable, "-m", "maxlocal", "serve", "--port", str(port)]
        args += ["--data", str(self.data_dir)]
        for name, value in self.options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        return args

    def start(self, port: int = 0) -> Platform:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(port), stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env
            )
        info = self._wait_for_server_file()
        self.port = int(info["port"])
        self.url = str(info["url"])
        return self

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after a few seconds; the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def restart(self) -> Platform:
        port = self.port
        self.stop()
        return self.start(port)

    def bootstrap(self) -> dict[str, str]:
        from maxlocal.admin import bootstrap_credentials

        return bootstrap_credentials(self.data_dir)

    def add_user(self, email: str) -> dict[str, str]:
        from maxlocal.admin import add_user

        return add_user(self.data_dir, email)

    def log(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return self.log_path.read_text(errors="replace")
        return ""

    def _wait_for_server_file(self) -> dict[str, Any]:
        assert self.process is not None
        server_file = self.data_dir / "server.json"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError, ValueError):
                info = json.loads(server_file.read_text())
                if info.get("pid") == self.process.pid:
                    return info
            if self.process.poll() is not None:
                raise PlatformError(
                    f"maxlocal exited with {self.process.returncode}:\n{self.log()}"
                )
            time.sleep(0.05)
        self.stop()
        raise PlatformError(f"maxlocal did not start within {START_TIMEOUT} s:\n{self.log()}")


class PlatformFactory:
    """Starts platforms, in `base`/data, `base`/data1, ..., and stops them all at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.started: list[Platform] = []

    def __call__(self, **options: Any) -> Platform:
        data_dir = self.base / f"data{len(self.started) or ''}"
        platform = Platform(data_dir, **options)
        self.started.append(platform)
        return platform.start()

    def stop_all(self) -> None:
        """Stop every platform, and any app process a killed one left behind (what its next
        start would have killed): no test leaves processes running."""
        from maxlocal.strays import kill_strays, marker_for

        for platform in self.started:
            platform.stop()
            kill_strays(marker_for(platform.data_dir))
