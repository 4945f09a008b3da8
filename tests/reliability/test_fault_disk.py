"""The platform's data directory full or read-only: requests fail with a JSON 5xx, SQLite
stays intact, and the platform recovers once the disk does (and after a restart)."""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.figures import PROCESS, Figures
from tests.support.cli import Rig
from tests.support.platform import Platform, PlatformError

TMPFS_SIZE = "8m"


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=20)


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=20)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of TMPFS_SIZE at tmp_path/disk (skips where mounting is not allowed)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        mount("-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(disk))
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield disk
    umount(disk)


@pytest.fixture
def disk_platform(small_disk: Path, tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(small_disk / "data")
    platform.log_path = tmp_path / "server.log"
    yield platform.start()
    platform.stop()


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte; the filler file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def integrity(platform: Platform) -> str:
    conn = sqlite3.connect(platform.data_dir / "maxlocal.db")
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def assert_json_5xx(response: httpx.Response) -> None:
    assert response.status_code >= 500, response.text
    assert set(response.json()["error"]) == {"code", "message", "hint"}
    assert "Traceback" not in response.text


def writes(client: httpx.Client, i: int) -> list[httpx.Response]:
    return [
        client.post("/networks", json={"name": f"full-{i}"}),
        client.patch("/networks/keep/vars", json={"vars": {f"K{i}": "v" * 4096}}),
        client.patch("/networks/keep/secrets", json={"secrets": {f"S{i}": "s" * 4096}}),
        client.post("/tokens", json={"name": f"t{i}"}),
    ]


def test_a_full_disk_fails_writes_cleanly_and_recovers(
    disk_platform: Platform, small_disk: Path, rig: Rig, figures: Figures
) -> None:
    platform = disk_platform
    token = platform.add_user("disk@example.com")["token"]
    rig.ok("login", "--api", platform.url, "--token", token)
    client = httpx.Client(
        base_url=f"{platform.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=20
    )
    assert client.post("/networks", json={"name": "keep"}).status_code == 201
    filler = fill(small_disk)
    with figures.fault("data directory full", PROCESS) as injected:
        failed = [r for i in range(20) for r in writes(client, i) if not r.is_success]
        assert failed, "nothing failed on a full disk"
        for response in failed:
            assert_json_5xx(response)
        codes = {r.json()["error"]["code"] for r in failed}
        injected.held("507 insufficient_storage", codes == {"insufficient_storage"}, codes)
        run = rig("create", "network", "while-full")
        injected.exit_code(run.code, 1, detail=run)
        line = injected.one_clear_line(run.err, prefix="rig: ")
        injected.held("says the disk is full", "disk is full" in line, line)
        injected.state_intact(client.get("/networks").status_code == 200, "reads fail")
        filler.unlink()
        created = client.post("/networks", json={"name": "after-full"}).status_code
        injected.state_intact(created == 201, f"a write after the disk freed: {created}")
        platform.restart()
        injected.state_intact(integrity(platform) == "ok", integrity(platform))
        names = {n["name"] for n in client.get("/networks").json()}
        injected.state_intact({"keep", "after-full"} <= names, names)


def test_a_read_only_data_directory_is_refused_clearly_and_recovers(
    disk_platform: Platform, small_disk: Path, figures: Figures
) -> None:
    platform = disk_platform
    token = platform.add_user("ro@example.com")["token"]
    client = httpx.Client(
        base_url=f"{platform.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=20
    )
    assert client.post("/networks", json={"name": "keep"}).status_code == 201
    port = platform.port
    platform.stop()
    gc.collect()  # the test's own admin connections (add_user) must not hold the disk open
    with figures.fault("data directory read-only at start", PROCESS) as injected:
        mount("-o", "remount,ro", str(small_disk))
        try:
            with pytest.raises(OSError) as refused:
                (small_disk / "probe").write_text("x")
            assert refused.value.errno == errno.EROFS
            with pytest.raises(PlatformError):
                platform.start(port)
            injected.held("the platform does not start", platform.process is None
                          or platform.process.poll() is not None)  # fmt: skip
            log = platform.log().split("Application startup")[-1]
            clear = "Read-only file system" in log and "cannot listen" not in log
            injected.held("says read-only, no traceback", clear and "Traceback" not in log, log)
        finally:
            mount("-o", "remount,rw", str(small_disk))
        platform.start(port)
        injected.state_intact(integrity(platform) == "ok", integrity(platform))
        created = client.post("/networks", json={"name": "after-ro"}).status_code
        names = {n["name"] for n in client.get("/networks").json()}
        injected.state_intact(created == 201 and {"keep", "after-ro"} <= names, names)
