"""A deploy under fire: the platform SIGKILLed mid-upload and mid-build, and Ctrl+C at each
phase of ``rig deploy``. Nothing is left half done on either side. rig runs in a real
pseudo-terminal (tests/reliability/deploys.py): its Ctrl+C is the terminal's ^C to the
foreground process group, as a user's is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from maxlocal.strays import marker_for, stray_groups
from tests.deploy.conftest import Api
from tests.reliability.deploys import (
    partial_uploads,
    release_in,
    releases,
    settled,
    source,
    start_deploy,
    temp_archives,
    wait_until,
)
from tests.reliability.figures import TERMINAL, Fault, Figures
from tests.reliability.throttle import Throttle
from tests.support.cli import Rig
from tests.support.platform import Platform, PlatformFactory

UPLOAD_BYTES_PER_S = 3 * 1024 * 1024

Setup = tuple[Platform, Rig, Api]


@pytest.fixture
def setup(platform_factory: PlatformFactory, rig: Rig) -> Iterator[Setup]:
    platform = platform_factory(health_timeout=20)
    throttle = Throttle(platform.port, UPLOAD_BYTES_PER_S).start()
    token = platform.add_user("deployer@example.com")["token"]
    rig.ok("login", "--api", throttle.url, "--token", token)
    api = Api(platform, token)
    assert api.http.post("/networks", json={"name": "shop"}).status_code == 201
    assert api.http.post("/networks/shop/apps", json={"name": "api"}).status_code == 201
    yield platform, rig, api
    api.http.close()
    throttle.stop()


def kill_and_restart(platform: Platform) -> None:
    assert platform.process is not None
    platform.process.kill()
    platform.process.wait()
    platform.start(platform.port)


def one_error(fault: Fault, err: str) -> dict[str, str]:
    """The single JSON error document rig wrote to stderr under -o json."""
    line = fault.one_clear_line(err)
    error = dict(json.loads(line)["error"])
    fault.held("one JSON error", set(error) == {"code", "message", "hint"}, line)
    return error


def test_platform_killed_during_an_upload(setup: Setup, tmp_path: Path, figures: Figures) -> None:
    platform, rig, api = setup
    src = source(tmp_path / "src", blob_mib=8)
    with figures.fault("platform SIGKILLed during an upload", TERMINAL) as injected:
        run = start_deploy(
            rig, src, tmp_path / "tmp", "--detach", "-o", "json", stderr=tmp_path / "err"
        )
        wait_until(lambda: partial_uploads(platform), what="the upload to start")
        kill_and_restart(platform)
        code, out, err = run.finish()
        injected.exit_code(code, 0, 6, detail=err)
        leftovers = partial_uploads(platform) + temp_archives(tmp_path / "tmp")
        injected.state_intact(not leftovers, leftovers)
        if code == 0:  # the upload was retried against the restarted platform
            number = json.loads(out)["release"]
            landed = settled(api)
            injected.state_intact([r["number"] for r in landed] == [number], landed)
            injected.state_intact(landed[0]["status"] == "active", landed)
        else:
            injected.held("says the upload", "upload" in one_error(injected, err)["message"], err)
            injected.state_intact(releases(api) == [], releases(api))


def test_platform_killed_during_a_build(setup: Setup, tmp_path: Path, figures: Figures) -> None:
    platform, rig, api = setup
    src = source(tmp_path / "src", build="echo building; sleep 30")
    with figures.fault("platform SIGKILLed during a build", TERMINAL) as injected:
        run = start_deploy(rig, src, tmp_path / "tmp", "-o", "json", stderr=tmp_path / "err")
        wait_until(lambda: release_in(api, "building"), what="the build")
        kill_and_restart(platform)
        code, _, err = run.finish()
        injected.exit_code(code, 1, 6, detail=err)
        one_error(injected, err)
        (release,) = settled(api)
        failed = release["status"] == "failed" and release["error"]["phase"] == "build"
        injected.state_intact(failed, release)
        injected.state_intact(api.status("shop", "api")["release"] is None, "a release is live")
        strays = stray_groups(marker_for(platform.data_dir))
        injected.state_intact(not strays and not temp_archives(tmp_path / "tmp"), strays)


PHASES = {
    "bundling": {"files": 800},
    "uploading": {"blob_mib": 8},
    "building": {"build": "echo building; sleep 3"},
    "starting": {"start_delay": 3.0},
}


@pytest.mark.parametrize("phase", list(PHASES))
def test_ctrl_c_at_each_phase_of_a_deploy(
    setup: Setup, tmp_path: Path, figures: Figures, phase: str
) -> None:
    platform, rig, api = setup
    src = source(tmp_path / "src", **PHASES[phase])  # type: ignore[arg-type]
    tmpdir = tmp_path / "tmp"
    with figures.fault(f"Ctrl+C while {phase}", TERMINAL) as injected:
        run = start_deploy(rig, src, tmpdir)
        if phase == "bundling":
            wait_until(lambda: temp_archives(tmpdir), what="bundling")
            assert not partial_uploads(platform)
        elif phase == "uploading":
            wait_until(lambda: partial_uploads(platform), what="the upload")
        else:
            wait_until(lambda: release_in(api, phase), what=phase)
        run.interrupt()
        code, shown, _ = run.finish()
        injected.exit_code(code, 130, detail=shown)
        after = shown.rsplit("^C", 1)[-1]  # what rig wrote once the terminal echoed the ^C
        line = injected.one_clear_line(after.replace("\r", "\n"))
        if phase in ("bundling", "uploading"):
            said = line.strip() == "rig: interrupted"
        else:  # uploaded: the platform goes on with the release, and rig says so
            said = line.strip().startswith(
                "rig: stopped watching; the platform continues the deploy of release 1 of "
            )
        injected.held("says what happens to the deploy", said, shown)
        injected.state_intact(not temp_archives(tmpdir), temp_archives(tmpdir))
        wait_until(lambda: not partial_uploads(platform), 10, "the partial upload to go")
        landed = [r["status"] for r in settled(api)]
        expected = [] if phase in ("bundling", "uploading") else ["active"]
        injected.state_intact(landed == expected, landed)
