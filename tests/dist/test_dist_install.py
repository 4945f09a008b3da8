"""The lean install, as a user gets it: the wheel scripts/build-dist makes, installed with
`uv tool install` into a clean temporary tool directory (dependencies from the package index).
There, with only the client installed, `import fastapi` fails, and rig runs its one-shot
commands and its shell against a platform started elsewhere (from the dev venv)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

from rig import __version__
from tests.support.cli import single_error_line
from tests.support.dist import Client, build_dist
from tests.support.platform import Platform, PlatformFactory

pytestmark = [pytest.mark.network, pytest.mark.slow]

UV = Path(sys.executable).with_name("uv")  # the dev venv's (the local extra installs it)


@dataclass
class Installed(Client):
    """A `uv tool install`ed rig: its command, home and its environment's interpreter."""

    python: Path = Path()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per test run, by the script a release uses."""
    return build_dist(tmp_path_factory, "wheel")[0]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    home = tmp_path_factory.mktemp("lean-home")
    tools, bin_dir = home / "tools", home / "bin"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTHON"))
    }
    env.update(UV_TOOL_DIR=str(tools), UV_TOOL_BIN_DIR=str(bin_dir))
    done = subprocess.run(
        [str(UV), "tool", "install", "--python", sys.executable, str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    yield Installed(
        [str(bin_dir / "rig")], home, [str(bin_dir)], tools / "maxrig" / "bin" / "python"
    )


def test_only_the_client_is_installed(installed: Installed) -> None:
    # (cryptography is the client's too on Linux: keyring's SecretStorage backend needs it)
    for module in ("fastapi", "starlette", "uvicorn", "psutil", "prometheus_client", "seccomp"):
        probe = subprocess.run(
            [str(installed.python), "-c", f"import {module}"],
            capture_output=True,
            text=True,
            env=installed.env(),
        )
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, module
    where = subprocess.run(
        [str(installed.python), "-c", "import rig; print(rig.__file__)"],
        capture_output=True,
        text=True,
        env=installed.env(),
        cwd=installed.home,
    )
    assert where.stdout.startswith(str(installed.home)), where  # the wheel's, not the checkout


def test_version_and_completion(installed: Installed) -> None:
    version = installed("--version")
    assert (version.code, version.out.strip()) == (0, f"rig {__version__}"), version
    completion = installed("completion", "bash")
    assert completion.code == 0, completion
    assert "complete -F" in completion.out and "rig" in completion.out


def test_local_start_says_what_to_install(installed: Installed) -> None:
    run = installed("local", "start", "--data", str(installed.home / "max"))
    assert run.code == 1, run
    line = single_error_line(run)
    assert "the local platform is not installed" in line
    assert "uv tool install 'maxrig[local]'" in line
    assert not (installed.home / "max" / "server.json").exists()


@pytest.fixture(scope="module")
def platform_elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform from the dev venv, as if on another machine."""
    factory = PlatformFactory(tmp_path_factory.mktemp("platform"))
    yield factory()
    factory.stop_all()


def test_one_shot_commands_against_a_platform(
    installed: Installed, platform_elsewhere: Platform, tmp_path: Path
) -> None:
    user = platform_elsewhere.add_user("lean@example.com")
    login = installed("login", "--api", platform_elsewhere.url, "--token", "-", input=user["token"])
    assert login.code == 0, login
    steps = [
        ("whoami",),
        ("create", "network", "lean-net"),
        ("create", "app", "api", "--network", "lean-net"),
        ("create", "var", "GREETING=hi", "--app", "api"),
        ("list", "networks"),
        ("list", "apps", "-o", "json"),
        ("list", "vars", "--app", "api"),
        ("details", "app", "api", "-o", "json"),
        ("list", "releases", "--app", "api"),
        ("env", "pull", "--app", "api", str(tmp_path / ".env")),
        ("context", "show"),
        ("audit", "--app", "api"),
    ]
    for args in steps:
        run = installed(*args)
        assert run.code == 0, run
    secret = installed("create", "secret", "TOKEN", "-", "--app", "api", input="s3cret\n")
    assert secret.code == 0 and "s3cret" not in secret.out + secret.err, secret
    apps = installed("list", "apps", "-o", "json").json()
    assert [a["name"] for a in apps] == ["api"]
    assert "GREETING='hi'" in (tmp_path / ".env").read_text()
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("print('hi')\n")
    dry = installed("deploy", str(tmp_path / "app"), "--app", "api", "--dry-run", "-o", "json")
    assert dry.code == 0, dry
    assert "main.py" in json.dumps(dry.json())
    missing = installed("details", "app", "nope")
    assert missing.code == 4, missing


NOT_ONE_SHOT = {
    "shell": "interactive: test_the_shell_prompts_on_a_terminal",
    "__complete": "the shells' completion hook, not typed by users",
    "local login": "the platform's extra (not in the client install)",
    "local serve": "the platform's extra",
    "local start": "the platform's extra: test_local_start_says_what_to_install",
    "local status": "the platform's extra",
    "local stop": "the platform's extra",
    "local user": "the platform's extra",
}


def test_every_one_shot_command_runs_from_the_lean_install(
    installed: Installed, platform_elsewhere: Platform, tmp_path: Path
) -> None:
    """Each command of the client's index, in a real workflow: a deploy with a build, logs,
    a remote command over the socket, scale, lifecycle, rollback, a configuration file
    applied and diffed, the project file, then everything deleted. A command added to rig
    fails this test until it is run here or said not to be one-shot."""
    from rig.commands import COMMANDS
    from tests.support.apps import GREETING_APP

    user = platform_elsewhere.add_user("every@example.com")
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(GREETING_APP)
    (src / "Procfile").write_text("web: python3 app.py\n")
    config = tmp_path / "net.yaml"
    app = ("--app", "web", "--network", "every")
    steps: list[tuple[str, ...]] = [
        ("login", "--api", platform_elsewhere.url, "--token", "-"),
        ("whoami",),
        ("context", "list"),
        ("list", "contexts"),
        ("context", "show"),
        ("context", "use", "default"),
        ("create", "network", "every"),
        ("create", "app", "web", "--network", "every"),
        ("list", "networks"),
        ("list", "apps", "--network", "every"),
        ("create", "var", "GREETING=hi", *app),
        ("create", "secret", "TOKEN", "-", *app),
        ("list", "vars", *app),
        ("list", "secrets", *app),
        ("deploy", str(src), *app),
        ("create", "var", "GREETING=again", *app),  # a config release: two to roll back between
        ("list", "releases", *app),
        ("status", "app", *app),
        ("status", "network", "every"),
        ("status", "dashboard"),
        ("logs", "app", *app, "--tail", "5"),
        ("logs", "build", *app),
        ("logs", "network", "every", "--tail", "5"),
        ("command", "echo from-the-app", *app),
        ("list", "sessions"),
        ("scale", "app", "web", "--network", "every", "--instances", "2"),
        ("restart", "app", "web", "--network", "every"),
        ("stop", "app", "web", "--network", "every"),
        ("start", "app", "web", "--network", "every"),
        ("rollback", *app),
        ("details", "app", "web", "--network", "every"),
        ("details", "network", "every", "--export", str(config)),
        ("diff", "-f", str(config)),
        ("apply", "-f", str(config)),
        ("env", "pull", *app, str(tmp_path / ".env")),
        ("run", *app, "--", "sh", "-c", 'test -n "$GREETING"'),
        ("init", *app, "--dir", str(src)),
        ("audit", "--network", "every"),
        ("completion", "zsh"),
        ("create", "registry", "registry.example.com", "--username", "ci"),
        ("list", "registries"),
        ("delete", "registry", "registry.example.com", "--yes"),
        ("delete", "var", "GREETING", *app, "--yes"),
        ("delete", "secret", "TOKEN", *app, "--yes"),
        ("delete", "app", "web", "--network", "every", "--yes"),
        ("delete", "network", "every", "--yes"),
        ("logout",),
        ("context", "delete", "default"),
    ]
    inputs = {"login": user["token"], "create secret": "s3cret\n", "create registry": "s3cret\n"}
    outputs: dict[str, str] = {}
    for args in steps:
        words = " ".join(a for a in args[:2] if not a.startswith("-"))
        run = installed(*args, input=inputs.get(words, inputs.get(args[0], "")))
        assert run.code == 0, run
        assert "s3cret" not in run.out + run.err, run
        outputs[words] = outputs[args[0]] = run.out
    assert "from-the-app" in outputs["command"]  # over the socket, from the app's sandbox
    assert "TOKEN" in outputs["list secrets"] and "web" in outputs["list apps"]
    assert "registry.example.com" in outputs["list registries"]
    ran = {" ".join(a for a in args[:2] if not a.startswith("-")) for args in steps}
    ran |= {args[0] for args in steps}
    untested = set(COMMANDS) - ran - set(NOT_ONE_SHOT)
    assert not untested, f"not run from the lean install: {sorted(untested)}"


def test_the_shell_prompts_on_a_terminal(
    installed: Installed, platform_elsewhere: Platform
) -> None:
    user = platform_elsewhere.add_user("lean-shell@example.com")
    login = installed("login", "--api", platform_elsewhere.url, "--token", "-", input=user["token"])
    assert login.code == 0, login
    shell = installed.shell()
    try:
        shell.expect_exact("rig default>")  # the login's context, on its first prompt
        shell.sendline("create network lean-shell-net")
        shell.expect_exact("rig default>")
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0
    networks = installed("list", "networks", "-o", "json").json()
    assert [n["name"] for n in networks] == ["lean-shell-net"]  # the shell did it


def test_pip_install_into_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    """The other way in: a plain venv and pip, as a CI job that only deploys would do."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", wheel],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stderr
    version = subprocess.run(
        [str(venv / "bin" / "rig"), "--version"], capture_output=True, text=True, cwd=tmp_path
    )
    assert version.stdout.strip() == f"rig {__version__}", version
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import fastapi"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "ModuleNotFoundError" in probe.stderr, probe
