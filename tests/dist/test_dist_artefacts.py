"""The release artefacts scripts/build-dist makes beside the wheel, each run as a user runs it:
the single file (shiv) with the host's own Python 3 (Debian's /usr/bin/python3, nothing of rig
installed), the one-directory bundle (PyInstaller, its own Python), and the .deb made from the
bundle, installed with apt. Each answers --version and --help, makes an API call against a
platform from the dev venv, and its shell shows the first prompt on a pseudo-terminal."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from rig import __version__
from tests.support.cli import single_error_line
from tests.support.dist import Client, build_dist
from tests.support.platform import Platform, PlatformFactory

# the first test waits for the build (PyInstaller: a minute or two, more on a loaded machine)
pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(600)]

KINDS = ("wheel", "pyz", "bundle", "deb")


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """All four, built once per test run (PyInstaller takes a minute or two)."""
    return dict(zip(KINDS, build_dist(tmp_path_factory, *KINDS), strict=True))


@pytest.fixture(params=["pyz", "bundle"])
def client(request: pytest.FixtureRequest, artefacts: dict[str, Path], tmp_path: Path) -> Client:
    if request.param == "pyz":
        # the host's Python, not the dev venv's; shiv unpacks into SHIV_ROOT on the first run
        return Client(["/usr/bin/python3", str(artefacts["pyz"])], tmp_path)
    return Client([str(artefacts["bundle"] / "rig")], tmp_path)


@pytest.fixture(scope="module")
def platform_elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform from the dev venv, as if on another machine."""
    factory = PlatformFactory(tmp_path_factory.mktemp("platform"))
    yield factory()
    factory.stop_all()


def test_the_artefacts_are_named_by_version(artefacts: dict[str, Path]) -> None:
    names = {kind: path.name for kind, path in artefacts.items()}
    assert names["pyz"] == f"rig-{__version__}.pyz"
    assert names["bundle"].startswith(f"rig-{__version__}-linux-")
    assert names["deb"].startswith(f"maxrig_{__version__}_")
    assert (artefacts["bundle"] / "rig").is_file()
    # nothing of the platform went into the bundle (the client imports only maxlocal.grep)
    bundled = subprocess.run(
        ["find", str(artefacts["bundle"]), "-name", "fastapi*", "-o", "-name", "uvicorn*"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert bundled.stdout == ""


def test_version_help_and_a_usage_error(client: Client) -> None:
    version = client("--version")
    assert (version.code, version.out.strip(), version.err) == (0, f"rig {__version__}", "")
    help_ = client("--help")
    assert help_.code == 0 and help_.err == "", help_
    assert "usage: rig" in help_.out and "deploy" in help_.out
    bad = client("frobnicate")
    assert bad.code == 2 and "Traceback" not in bad.err, bad
    local = client("local", "start", "--data", str(client.home / "max"))
    assert local.code == 1 and "local platform is not installed" in single_error_line(local)


def test_an_api_call_and_the_shell(client: Client, platform_elsewhere: Platform) -> None:
    kind = "pyz" if client.argv[-1].endswith(".pyz") else "bundle"
    user = platform_elsewhere.add_user(f"{kind}@example.com")
    login = client("login", "--api", platform_elsewhere.url, "--token", "-", input=user["token"])
    assert login.code == 0, login
    network = f"{kind}-net"  # pyz and bundle share the platform
    created = client("create", "network", network)
    assert created.code == 0, created
    listed = client("list", "networks", "-o", "json")
    assert listed.code == 0, listed
    assert network in [n["name"] for n in listed.json()]
    shell = client.shell()
    try:
        shell.expect_exact("rig default>")  # the login's context, on its first prompt
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0


def test_the_deb_installs_with_apt(artefacts: dict[str, Path]) -> None:
    """As root (here and in CI): apt resolves Depends; /usr/bin/rig runs the bundle; purged."""
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "-y", "-q"]
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    left = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", "maxrig"], capture_output=True)
    if left.stdout.endswith(b" installed"):  # a run stopped before its clean-up: ours
        subprocess.run([*apt, "purge", "maxrig"], capture_output=True, env=env, check=True)
    assert shutil.which("rig", path="/usr/bin") is None, "another rig is installed in /usr/bin"
    try:
        installed = subprocess.run(
            [*apt, "install", "--no-install-recommends", str(artefacts["deb"])],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
        version = subprocess.run(
            ["/usr/bin/rig", "--version"],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "RIG_NO_UPDATE_CHECK": "1"},
            cwd="/",
            timeout=60,
        )
        assert (version.returncode, version.stdout) == (0, f"rig {__version__}\n"), version
        assert Path("/usr/bin/rig").resolve() == Path("/usr/lib/maxrig/rig")
    finally:
        removed = subprocess.run(
            [*apt, "purge", "maxrig"], capture_output=True, text=True, env=env, timeout=600
        )
    assert removed.returncode == 0, removed.stderr
    assert not Path("/usr/bin/rig").exists() and not Path("/usr/lib/maxrig").exists()


def test_the_bench_section_measures_each_artefact(artefacts: dict[str, Path]) -> None:
    """bench/dist.py once (one round, nothing enforced) on these artefacts: it cannot rot
    unnoticed, and the bench's smoke run need not build them a second time."""
    from bench import dist
    from bench import platform as bench_platform

    local = bench_platform.start(isolation="none")
    try:
        figures = dist.start_up(
            local, 1, (artefacts["wheel"], artefacts["pyz"], artefacts["bundle"])
        )
    finally:
        bench_platform.stop(local)
    names = [f.name for f in figures]
    for artefact in ("single file", "bundle"):
        assert f"{artefact} rig --version" in names and f"{artefact} rig --help" in names
        assert f"{artefact} rig --version, first run" in names
    assert "rig list apps -o json (lean install)" in names
    assert all(f.value is not None and f.value > 0 for f in figures), figures
