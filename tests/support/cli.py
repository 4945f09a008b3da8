"""Running the real ``rig`` in a subprocess, with its own config directory, for tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.platform import Platform, PlatformPool

if TYPE_CHECKING:
    import pexpect

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 60


@dataclass
class Run:
    args: list[str]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error_json(self) -> dict[str, Any]:
        return json.loads(self.err)

    def __str__(self) -> str:
        return f"rig {' '.join(self.args)} -> {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"


@dataclass
class Rig:
    """Runs ``python -m rig`` with a private config directory; ``rig("list", "apps")``."""

    config_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    user: dict[str, str] = field(default_factory=dict)

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Run:
        full_env = base_env(self.config_dir)
        full_env.update(self.env)
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "rig", *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env=full_env,
            cwd=cwd or ROOT,
            timeout=RUN_TIMEOUT,
        )
        return Run(list(args), proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return popen_rig(args, {**base_env(self.config_dir), **self.env})

    def ok(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Run:
        """Run and insist on exit 0."""
        run = self(*args, input=input, env=env, cwd=cwd)
        assert run.code == 0, str(run)
        return run

    def login(self, platform: Platform, email: str, password: str, *extra: str) -> Run:
        run = self.ok(
            "login", "--api", platform.url, "--email", email, "--password-stdin", *extra,
            input=password + "\n",
        )  # fmt: skip
        self.platform = platform
        self.user = {"email": email, "password": password}
        return run

    def credentials(self) -> dict[str, Any]:
        """The file store's contents."""
        return dict(json.loads((self.config_dir / "credentials.json").read_text()))

    def contexts(self) -> dict[str, Any]:
        return dict(json.loads((self.config_dir / "contexts.json").read_text()))


def popen_rig(args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``rig ARGS`` without waiting: stdin empty, stdout and stderr piped as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "rig", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def on_terminal(rig: Rig, *args: str, colour: bool = False, timeout: float = 20) -> pexpect.spawn:
    """``rig ARGS`` on a real pseudo-terminal (pexpect), with ``rig``'s config; with
    ``colour``, without ``NO_COLOR`` (rig then colours what it prints there)."""
    import pexpect

    env = {**base_env(rig.config_dir), **rig.env}
    if colour:
        env.pop("NO_COLOR", None)
    return pexpect.spawn(
        sys.executable, ["-m", "rig", *args], env=env, cwd=str(ROOT), encoding="utf-8",
        timeout=timeout,
    )  # fmt: skip


def finished(child: pexpect.spawn) -> tuple[int, str]:
    """Wait for a spawned rig to end: its exit code and all it printed."""
    import pexpect

    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.before or ""


def base_env(config_dir: Path) -> dict[str, str]:
    """The environment without the user's rig settings, pointing rig at ``config_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIG_", "PYTHON_KEYRING"))}
    env.update(
        RIG_CONFIG_DIR=str(config_dir),
        RIG_CREDENTIAL_STORE="file",
        RIG_NO_UPDATE_CHECK="1",  # tests talk to loopback only (tests/dist turns it back on)
        NO_COLOR="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    return env


def single_error_line(run: Run) -> str:
    """The one line a failed command wrote to stderr (checked to be one line, no traceback)."""
    assert run.code != 0, str(run)
    assert "Traceback" not in run.err, str(run)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, str(run)
    assert lines[0].startswith("rig: "), str(run)
    assert "(hint: " in lines[0], str(run)
    return lines[0]


@pytest.fixture
def make_rig(tmp_path: Path) -> Callable[[], Rig]:
    """Makes runners, each with a config directory of its own (a different person's machine)."""
    count = 0

    def make() -> Rig:
        nonlocal count
        count += 1
        directory = tmp_path / f"rig-config{count}"
        return Rig(directory)

    return make


@pytest.fixture
def rig(make_rig: Callable[[], Rig]) -> Rig:
    return make_rig()


@pytest.fixture
def shared_platform(request: pytest.FixtureRequest) -> Iterator[Platform]:
    """A platform for tests that need only users of their own with empty accounts (as
    ``logged_in`` and ``second_user``): the test's ``platform`` when it asks for one; else
    the one tests take turns on (``platform_pool``), emptied after the test."""
    if "platform" in request.fixturenames:
        yield request.getfixturevalue("platform")
        return
    pool: PlatformPool = request.getfixturevalue("platform_pool")
    yield pool.take()
    pool.give_back()


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def new_login(shared_platform: Platform, request: pytest.FixtureRequest) -> dict[str, str]:
    """The email and password of a user of ``shared_platform`` with an empty account: the
    bootstrap user of the test's own ``platform``, else a new user of the shared one."""
    if "platform" in request.fixturenames:
        return shared_platform.bootstrap()
    return shared_platform.add_login(unique_email("user"))


@pytest.fixture
def logged_in(rig: Rig, shared_platform: Platform, new_login: dict[str, str]) -> Rig:
    """``rig``, logged in to ``shared_platform`` as ``new_login``."""
    rig.login(shared_platform, new_login["email"], new_login["password"])
    return rig


@pytest.fixture
def second_user(make_rig: Callable[[], Rig], shared_platform: Platform) -> Rig:
    """Another person on the same platform, logged in with an API token (``rig login --token``)."""
    other = make_rig()
    user = shared_platform.add_user(unique_email("second"))
    other.ok("login", "--api", shared_platform.url, "--token", user["token"])
    other.platform = shared_platform
    other.user = user
    return other
