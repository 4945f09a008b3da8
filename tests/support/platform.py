"""A real maxlocal server in a subprocess, for tests."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # a wait, not a target: a loaded machine may take long to import
STOP_TIMEOUT = 5.0


class PlatformError(RuntimeError):
    pass


class Platform:
    """A maxlocal server on a free loopback port, with its own data directory.

    `options` become command-line flags: ``access_ttl=1`` -> ``--access-ttl 1``. Tenant
    processes run sandboxed (``--isolation auto``) unless ``isolation="none"`` is given:
    the platform an attack test runs once without the sandbox, to show it would work there.
    ``environ``: the server's whole environment (default: this process's), to which this
    checkout is added on PYTHONPATH.
    """

    def __init__(
        self, data_dir: Path, *, environ: dict[str, str] | None = None, **options: Any
    ) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.environ = environ
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

    def environment(self) -> dict[str, str]:
        """What the server process is started with: ``environ``, this checkout importable."""
        env = dict(os.environ if self.environ is None else self.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        return env

    def start(self, port: int = 0) -> Platform:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=self.environment(),
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

    @property
    def isolation(self) -> dict[str, str]:
        """``{"mode", "detail"}`` of the running platform (as ``/api/v1/health`` says)."""
        info = json.loads((self.data_dir / "server.json").read_text())
        return dict(info["isolation"])

    def app_home(self, network: str, app: str) -> Path:
        """The app's HOME (made now if need be): the one directory a sandboxed app, its
        builds and shells can write that a test can read, or leave files in for it."""
        home = self.data_dir / "homes" / "apps" / network / app
        home.mkdir(parents=True, exist_ok=True)
        return home

    def bootstrap(self) -> dict[str, str]:
        from maxlocal.admin import bootstrap_credentials

        return bootstrap_credentials(self.data_dir)

    def add_user(self, email: str) -> dict[str, str]:
        from maxlocal.admin import add_user

        return add_user(self.data_dir, email)

    def add_login(self, email: str) -> dict[str, str]:
        """A new user who logs in with a password, {"email", "password"}."""
        from maxlocal.auth import Auth
        from maxlocal.store.db import Database

        password = secrets.token_urlsafe(12)
        Auth(Database.open(self.data_dir)).create_user(email, password)
        return {"email": email, "password": password}

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def clear(self) -> bool:
        """Delete every network, as its owner through the API, so that their names are free
        again; whether the platform is now as good as new for a user of its own.

        Not when anything was ever deployed: a release's worker and processes could outlive
        its app and meet a new app of the same name."""
        with contextlib.closing(sqlite3.connect(self.data_dir / "maxlocal.db")) as db:
            if db.execute("SELECT count(*) FROM releases").fetchone()[0]:
                return False
            owned = db.execute(
                "SELECT users.email, networks.name FROM networks JOIN users"
                " ON users.id = networks.user_id"
            ).fetchall()
        tokens: dict[str, str] = {}
        for email, network in owned:
            if email not in tokens:
                tokens[email] = self.add_user(email)["token"]
            response = httpx.delete(
                f"{self.url}/api/v1/networks/{network}",
                params={"force": "true"},
                headers={"Authorization": f"Bearer {tokens[email]}"},
                timeout=30,
            )
            if response.status_code != 204:
                return False
        with contextlib.closing(sqlite3.connect(self.data_dir / "maxlocal.db")) as db:
            left = db.execute("SELECT count(*) FROM networks").fetchone()[0]
            return bool(left == 0 and not db.execute("SELECT count(*) FROM releases").fetchone()[0])

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
        """A started platform; ``isolation="none"`` for one without the sandbox."""
        data_dir = self.base / f"data{len(self.started) or ''}"
        platform = Platform(data_dir, **options)
        self.started.append(platform)
        return platform.start()

    def stop_all(self) -> None:
        """Stop every platform, and any app process a killed one left behind (what its next
        start would have killed): no test leaves processes running."""
        for platform in self.started:
            stop_for_good(platform)


def stop_for_good(platform: Platform) -> None:
    """Stop the platform and kill any app process it left behind."""
    from maxlocal.strays import kill_strays, marker_for

    platform.stop()
    kill_strays(marker_for(platform.data_dir))
    if platform.options.get("runtime") == "swarm":  # its services outlive it, by design
        from maxlocal.runtime.swarm.driver import remove_platform

        remove_platform(platform.data_dir)


class PlatformPool:
    """One platform that tests take turns on, for tests that need only users of their own
    with empty accounts rather than a server of their own: starting a server costs far
    more than a test that uses it.

    After each test every network is deleted (so names are free again); a platform that
    was stopped, deployed to or not left empty is stopped for good, and the next test
    gets a new one."""

    def __init__(self, base: Path, **options: Any) -> None:
        self.factory = PlatformFactory(base)
        self.options = options
        """What each of its platforms is started with (``runtime="swarm"``)."""
        self.current: Platform | None = None

    def take(self) -> Platform:
        if self.current is None:
            self.current = self.factory(**self.options)
        return self.current

    def give_back(self) -> None:
        platform, self.current = self.current, None
        if platform is None:
            return
        try:
            reusable = platform.running() and platform.clear()
        except (httpx.HTTPError, sqlite3.Error):
            reusable = False
        if reusable:
            self.current = platform
        else:
            stop_for_good(platform)

    def close(self) -> None:
        self.current = None
        self.factory.stop_all()
