"""A deploy under fire: the platform SIGKILLed mid-upload and mid-build, and Ctrl+C at each
phase of ``rig deploy``. Nothing is left half done on either side."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from maxlocal.strays import marker_for, stray_groups
from tests.deploy.conftest import Api
from tests.reliability.deploys import (
    finish,
    interrupt,
    partial_uploads,
    release_in,
    releases,
    settled,
    source,
    start_deploy,
    temp_archives,
    wait_until,
)
from tests.reliability.figures import Figures
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


def one_error(code: int, err: str) -> dict[str, str]:
    """The single JSON error document rig wrote under -o json."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return dict(json.loads(lines[0])["error"])


def test_platform_killed_during_an_upload(setup: Setup, tmp_path: Path, figures: Figures) -> None:
    platform, rig, api = setup
    src = source(tmp_path / "src", blob_mib=8)
    with figures.fault("platform SIGKILLed during an upload"):
        proc = start_deploy(rig, src, tmp_path / "tmp", "--detach", "-o", "json")
        wait_until(lambda: partial_uploads(platform), what="the upload to start")
        kill_and_restart(platform)
        code, out, err = finish(proc)
        assert not partial_uploads(platform)
        assert not temp_archives(tmp_path / "tmp")
        if code == 0:  # the upload was retried against the restarted platform
            number = json.loads(out)["release"]
            assert [r["number"] for r in settled(api)] == [number]
            assert settled(api)[0]["status"] == "active"
        else:
            assert code == 6, err
            assert "upload" in one_error(code, err)["message"]
            assert releases(api) == []


def test_platform_killed_during_a_build(setup: Setup, tmp_path: Path, figures: Figures) -> None:
    platform, rig, api = setup
    src = source(tmp_path / "src", build="echo building; sleep 30")
    with figures.fault("platform SIGKILLed during a build"):
        proc = start_deploy(rig, src, tmp_path / "tmp", "-o", "json")
        wait_until(lambda: release_in(api, "building"), what="the build")
        kill_and_restart(platform)
        code, _, err = finish(proc)
        assert code in (1, 6), err
        one_error(code, err)
        (release,) = settled(api)
        assert release["status"] == "failed"
        assert release["error"]["phase"] == "build"
        assert api.status("shop", "api")["release"] is None
        assert not stray_groups(marker_for(platform.data_dir))
        assert not temp_archives(tmp_path / "tmp")


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
    with figures.fault(f"Ctrl+C while {phase}"):
        proc = start_deploy(rig, src, tmpdir)
        if phase == "bundling":
            wait_until(lambda: temp_archives(tmpdir), what="bundling")
            assert not partial_uploads(platform)
        elif phase == "uploading":
            wait_until(lambda: partial_uploads(platform), what="the upload")
        else:
            wait_until(lambda: release_in(api, phase), what=phase)
        interrupt(proc)
        code, _, err = finish(proc)
        assert code == 130, err
        assert err.strip().splitlines()[-1] == "rig: interrupted", err
        assert "Traceback" not in err
        assert not temp_archives(tmpdir)
        wait_until(lambda: not partial_uploads(platform), 10, "the partial upload to go")
        landed = settled(api)
        if phase in ("bundling", "uploading"):
            assert landed == []
        else:
            assert [r["status"] for r in landed] == ["active"]
