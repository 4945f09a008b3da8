from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import httpx
import pytest
from upload_server import UploadServer

from rig.bundle import plan_bundle
from rig.transport.upload import UploadError, build_archive, iter_archive, upload

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def make_app(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "app.py").write_text("print('hi')\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "pkg" / "data.bin").write_bytes(os.urandom(200_000))
    os.symlink("pkg/data.bin", root / "link")


def test_archive_round_trips_and_hash_matches(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_app(src)
    progress: list[int] = []
    archive = build_archive(plan_bundle(src), tmp_path / "a.tgz", progress.append)

    data = (tmp_path / "a.tgz").read_bytes()
    assert archive.size == len(data)
    assert archive.sha256 == hashlib.sha256(data).hexdigest()
    assert progress[-1] == plan_bundle(src).total_bytes
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {"app.py", "link", "pkg/data.bin", "run.sh"}
        assert members["link"].issym() and members["link"].linkname == "pkg/data.bin"
        assert members["run.sh"].mode & 0o111
        blob = tar.extractfile("pkg/data.bin")
        assert blob is not None
        assert blob.read() == (src / "pkg" / "data.bin").read_bytes()


def test_the_same_tree_bundles_to_the_same_checksum(tmp_path: Path) -> None:
    """No time of bundling in the archive (gzip's header holds none): a tree deployed again
    unchanged sends the same sha256, and a change to one file changes it."""
    src = tmp_path / "src"
    make_app(src)
    first = build_archive(plan_bundle(src), tmp_path / "1.tgz")
    again = build_archive(plan_bundle(src), tmp_path / "2.tgz")
    assert first.sha256 == again.sha256
    assert first.path.read_bytes()[4:8] == bytes(4)  # gzip's MTIME: none
    (src / "app.py").write_text("print('bye')\n")
    os.utime(src / "app.py", (0, 0))
    assert build_archive(plan_bundle(src), tmp_path / "3.tgz").sha256 != first.sha256


def test_bundling_compresses_at_zlibs_default_level(tmp_path: Path) -> None:
    """Level 6, not tarfile's 9 (three times as slow on source for 1 % less): gzip's header
    says "maximum compression" (XFL 2) only at 9 and "fastest" (4) only at 1."""
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    text = "".join(f"line {i}: some source text\n" for i in range(20_000))
    (src / "pkg" / "module.py").write_text(text)
    data = (build_archive(plan_bundle(src), tmp_path / "a.tgz").path).read_bytes()
    assert data[:2] == b"\x1f\x8b" and data[8] == 0
    assert len(data) < len(text) / 5


def test_chunks_are_small_and_closing_early_stops_the_writer(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_app(src)
    chunks = iter_archive(plan_bundle(src))
    first = next(chunks)
    assert 0 < len(first) <= 64 * 1024
    chunks.close()


def test_upload_sends_checksum_and_streams(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_app(src)
    archive = build_archive(plan_bundle(src), tmp_path / "a.tgz")
    sent: list[int] = []
    with UploadServer() as server, httpx.Client() as client:
        response = upload(client, server.url, archive.path, archive.sha256, sent.append)
    assert response.status_code == 201
    assert response.json()["sha256"] == archive.sha256 == response.json()["claimed"]
    assert sent[-1] == archive.size


def test_dropped_connections_are_retried_with_the_same_key(tmp_path: Path) -> None:
    archive = tmp_path / "a.tgz"
    archive.write_bytes(os.urandom(300_000))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    with UploadServer(drop_first=2) as server, httpx.Client() as client:
        response = upload(client, server.url, archive, digest, backoff=(0.01, 0.02))
        assert response.status_code == 201
        assert server.attempts == 3
        assert server.received[0]["sha256"] == digest


def test_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    archive = tmp_path / "a.tgz"
    archive.write_bytes(b"x" * 1000)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with httpx.Client() as client, pytest.raises(UploadError) as caught:
        upload(client, f"http://127.0.0.1:{port}/", archive, "0" * 64, retries=2, backoff=(0.01,))
    assert "after 3 attempts" in caught.value.message
    assert "ConnectError" in caught.value.message
    assert caught.value.exit_code == 6


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, tempfile
    from pathlib import Path
    import httpx
    from upload_server import UploadServer
    from rig.bundle import plan_bundle
    from rig.transport.upload import build_archive, upload

    src = Path(sys.argv[1])
    with UploadServer() as server, httpx.Client() as client:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with tempfile.TemporaryDirectory() as tmp:
            archive = build_archive(plan_bundle(src), Path(tmp) / "bundle.tgz")
            response = upload(client, server.url, archive.path, archive.sha256)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "growth_kb": after - before,
        "size": archive.size,
        "ok": response.json()["sha256"] == archive.sha256,
    }))
    """
)


@pytest.mark.slow
def test_100_mb_bundle_and_upload_keep_memory_flat(tmp_path: Path) -> None:
    src = tmp_path / "big"
    src.mkdir()
    block = 1024 * 1024
    for index in range(4):
        with open(src / f"blob{index}.bin", "wb") as f:
            for _ in range(25):
                f.write(os.urandom(block))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(src)],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["ok"]
    assert result["size"] > 100 * block
    assert result["growth_kb"] < 50 * 1024, result
