"""Malicious archives through the real upload endpoint: each makes a failed release (phase
unpack), the running release keeps serving, and nothing is written outside the release."""

from __future__ import annotations

import gzip
import io
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import Api, new_api, routed, web_app
from tests.reliability.figures import PLATFORM, Figures
from tests.support.platform import Platform, PlatformFactory

MARK = f"pwned-{uuid.uuid4().hex[:12]}"
BOMB_CLAIMED_BYTES = 5 * 1024**3  # over the platform's 4 GiB unpacked limit
BOMB_SENT_BYTES = 4 * 1024**2


def member(
    name: str, data: bytes = b"x", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mode = kind, link, len(data), 0o644
    return info


def tar_gz(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def bomb() -> bytes:
    """A gzip'd tar whose one file says it holds 5 GiB of zeros (the first 4 MiB are sent)."""
    header = member("zeros.bin")
    header.size = BOMB_CLAIMED_BYTES
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as gz:
        gz.write(header.tobuf(format=tarfile.GNU_FORMAT))
        zeros = bytes(1024 * 1024)
        for _ in range(BOMB_SENT_BYTES // len(zeros)):
            gz.write(zeros)
    return buffer.getvalue()


def regular(name: str) -> tuple[tarfile.TarInfo, bytes]:
    return member(name, b"written by an attack\n"), b"written by an attack\n"


def archives() -> dict[str, bytes]:
    ok = regular("Procfile")
    good = web_app("evil")
    return {
        "path traversal": tar_gz(ok, regular(f"../../{MARK}")),
        "deep traversal": tar_gz(ok, regular(f"a/b/../../../../../{MARK}")),
        "absolute path": tar_gz(ok, regular(f"/tmp/{MARK}")),
        "symlink out, absolute": tar_gz(
            ok, (member("out", kind=tarfile.SYMTYPE, link="/tmp"), b"")
        ),
        "symlink out, relative": tar_gz(
            ok, (member("up", kind=tarfile.SYMTYPE, link="../../.."), b""), regular(f"up/{MARK}")
        ),
        "write through a symlink": tar_gz(
            (member("dir", kind=tarfile.SYMTYPE, link="sub/../.."), b""), regular(f"dir/{MARK}")
        ),
        "hard link out, absolute": tar_gz(
            ok, (member(MARK, kind=tarfile.LNKTYPE, link="/etc/hostname"), b"")
        ),
        "hard link out, relative": tar_gz(
            ok, (member(MARK, kind=tarfile.LNKTYPE, link="../../../etc/hostname"), b"")
        ),
        "character device": tar_gz(ok, (member("tty", kind=tarfile.CHRTYPE), b"")),
        "block device": tar_gz(ok, (member("disk", kind=tarfile.BLKTYPE), b"")),
        "fifo": tar_gz(ok, (member("pipe", kind=tarfile.FIFOTYPE), b"")),
        "decompression bomb": bomb(),
        "truncated gzip": good[: len(good) // 2],
        "not gzip at all": b"PK\x03\x04 this is a zip file",
        "gzip of garbage": gzip.compress(b"\x01\x02 not a tar" * 100),
    }


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, Api, str, str]]:
    factory = PlatformFactory(tmp_path_factory.mktemp("archives"))
    platform = factory(health_timeout=20)
    api = new_api(platform)
    network, app = api.new_app()
    assert api.deploy(network, app, web_app("good"))["status"] == "active"
    yield platform, api, network, app
    api.http.close()
    factory.stop_all()


@pytest.mark.parametrize("kind", list(archives()))
def test_a_malicious_archive_fails_its_release_and_writes_nothing_outside(
    serving: tuple[Platform, Api, str, str], figures: Figures, kind: str
) -> None:
    platform, api, network, app = serving
    with figures.fault(f"malicious archive: {kind}", PLATFORM) as injected:
        response = api.upload(network, app, archives()[kind])
        injected.held("upload accepted (202)", response.status_code == 202, response.text)
        release = api.wait(network, app, response.json()["number"])
        refused = release["status"] == "failed" and release["error"]["phase"] == "unpack"
        injected.held("release failed at unpack", refused, release)
        if kind == "decompression bomb":
            injected.held("says the limit", "more than" in release["error"]["reason"], release)
        escaped = [p for p in platform.data_dir.parent.rglob(f"*{MARK}*")]
        escaped += [Path(f"/tmp/{MARK}")] if Path(f"/tmp/{MARK}").exists() else []
        injected.state_intact(not escaped, f"written outside: {escaped}")
        serving = routed(platform, network, app).text == "hello from good\n"
        status = api.status(network, app)
        live = status["state"] == "running" and status["release"] == 1
        injected.state_intact(serving and live, status)
