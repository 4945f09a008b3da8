from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from maxlocal.runtime.artifacts import ArchiveWriter, ArtifactError, unpack
from rig.bundle import plan_bundle
from rig.transport.upload import build_archive

Member = tuple[tarfile.TarInfo, bytes | None]


def entry(name: str, data: bytes = b"", **attrs: object) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data if info.isreg() else None


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Member:
    return entry(name, type=kind, linkname=target)


def make_tar(path: Path, *members: Member) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def assert_refused(tmp_path: Path, archive: Path, words: str, **limits: int) -> None:
    release = tmp_path / "releases" / "v1"
    with pytest.raises(ArtifactError) as caught:
        unpack(archive, release, **limits)
    assert words in caught.value.message
    assert not (tmp_path / "releases").exists() or os.listdir(tmp_path / "releases") == []
    assert not (tmp_path / "escaped").exists()


def test_real_bundle_round_trips(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_text("x = 1\n")
    (src / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (src / "run.sh").chmod(0o755)
    os.symlink("pkg/mod.py", src / "alias.py")
    os.symlink("../run.sh", src / "pkg" / "up.sh")
    archive = build_archive(plan_bundle(src), tmp_path / "a.tgz")

    result = unpack(archive.path, tmp_path / "releases" / "1")

    release = tmp_path / "releases" / "1"
    assert result.files == 4
    assert (release / "pkg" / "mod.py").read_text() == "x = 1\n"
    assert os.access(release / "run.sh", os.X_OK)
    assert os.readlink(release / "alias.py") == "pkg/mod.py"
    assert (release / "pkg" / "up.sh").read_text().startswith("#!/bin/sh")
    assert sorted(os.listdir(tmp_path / "releases")) == ["1"]


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ([entry("../escaped", b"x")], "path traversal"),
        ([entry("a/../../escaped", b"x")], "path traversal"),
        ([entry("/tmp/escaped", b"x")], "absolute path"),
        ([link("etc", "/etc")], "link out"),
        ([link("up", "../..")], "link out"),
        ([link("sub/up", "../../escaped")], "link out"),
        ([link("d", "."), entry("x/f", b"1"), link("e", "d/..")], "link out"),
        ([link("d", "sub"), entry("d/file", b"x")], "through a link"),
        ([entry("f", b"x"), entry("f/g", b"y")], "through a link or file"),
        ([link("hard", "../escaped", tarfile.LNKTYPE)], "path traversal"),
        ([link("hard", "missing", tarfile.LNKTYPE)], "hard link"),
        ([entry("dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3)], "unsupported entry"),
        ([entry("fifo", type=tarfile.FIFOTYPE)], "unsupported entry"),
    ],
)
def test_malicious_members_are_refused(tmp_path: Path, members: list[Member], words: str) -> None:
    assert_refused(tmp_path, make_tar(tmp_path / "bad.tgz", *members), words)


def test_size_limit_stops_a_decompression_bomb(tmp_path: Path) -> None:
    zeros = b"\0" * (4 * 1024 * 1024)
    archive = make_tar(tmp_path / "bomb.tgz", entry("a", zeros), entry("b", zeros))
    assert archive.stat().st_size < 64 * 1024
    assert_refused(tmp_path, archive, "unpacks to more than", max_bytes=6 * 1024 * 1024)


def test_member_count_limit(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "many.tgz", *(entry(f"f{i}", b"") for i in range(20)))
    assert_refused(tmp_path, archive, "more than 10 entries", max_members=10)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data[:-6],
        lambda data: b"not a gzip file at all",
        lambda data: data[:-8] + bytes(8),
    ],
    ids=["half", "trailer", "not-gzip", "bad-crc"],
)
def test_truncated_or_corrupt_archives_are_refused(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    good = make_tar(tmp_path / "good.tgz", entry("a", os.urandom(50_000)), entry("b", b"x"))
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(damage(good.read_bytes()))
    assert_refused(tmp_path, bad, "corrupt or truncated")


def test_existing_release_dir_is_not_touched(tmp_path: Path) -> None:
    release = tmp_path / "r"
    release.mkdir()
    (release / "keep").write_text("k")
    with pytest.raises(ArtifactError, match="already exists"):
        unpack(make_tar(tmp_path / "a.tgz", entry("x", b"1")), release)
    assert os.listdir(release) == ["keep"]


def test_writer_keeps_a_verified_archive(tmp_path: Path) -> None:
    data = os.urandom(100_000)
    path = tmp_path / "a.tgz"
    with ArchiveWriter(path, max_bytes=200_000) as writer:
        writer.write(data[:30_000])
        writer.write(data[30_000:])
        digest = writer.finish(hashlib.sha256(data).hexdigest().upper())
    assert digest == hashlib.sha256(data).hexdigest()
    assert path.read_bytes() == data
    assert os.listdir(tmp_path) == ["a.tgz"]


def test_writer_rejects_a_mismatch_leaving_nothing(tmp_path: Path) -> None:
    writer = ArchiveWriter(tmp_path / "a.tgz")
    writer.write(b"hello")
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        writer.finish("0" * 64)
    assert os.listdir(tmp_path) == []


def test_writer_enforces_max_size_and_cleans_up(tmp_path: Path) -> None:
    with ArchiveWriter(tmp_path / "a.tgz", max_bytes=10) as writer:
        writer.write(b"12345")
        with pytest.raises(ArtifactError, match="larger than the limit"):
            writer.write(b"123456")
    assert os.listdir(tmp_path) == []


def test_writer_abandoned_midway_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), ArchiveWriter(tmp_path / "a.tgz") as writer:
        writer.write(b"partial")
        raise RuntimeError("client went away")
    assert os.listdir(tmp_path) == []
