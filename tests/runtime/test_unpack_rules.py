"""The rules of receiving and unpacking an upload, one by one, at their edges: what
mutation testing (scripts/mutation-report artifacts) found test_artifacts.py let through.

Each test states a rule ``maxlocal/runtime/artifacts.py`` keeps: which check refused an
attack (by its exact message, since a later, weaker check would refuse some of them too),
the limits met exactly, modes and times as the archive gave them, hard links that work and
one that reaches outside through a symlinked directory, duplicates replaced, nothing
staged outside the release's parent."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from maxlocal.runtime import artifacts
from maxlocal.runtime.artifacts import ArchiveWriter, ArtifactError, unpack
from tests.runtime.test_artifacts import Member, entry, link, make_tar


@pytest.fixture
def no_umask() -> Iterator[None]:
    """Modes as the unpacker sets them, not as this process's umask trims them."""
    old = os.umask(0)
    yield
    os.umask(old)


def refused(tmp_path: Path, *members: Member) -> str:
    """The message unpacking ``members`` is refused with; nothing is left behind."""
    with pytest.raises(ArtifactError) as caught:
        unpack(make_tar(tmp_path / "bad.tgz", *members), tmp_path / "releases" / "v1")
    assert os.listdir(tmp_path / "releases") == []
    return caught.value.message


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([entry("..\\escaped", b"x")], "path traversal in archive: ..\\escaped"),
        ([entry("a\\..\\..\\escaped", b"x")], "path traversal in archive: a\\..\\..\\escaped"),
        ([entry("C:", b"x")], "absolute path in archive: C:"),
        ([entry("C:/Windows/evil", b"x")], "absolute path in archive: C:/Windows/evil"),
        # refused by the link's own check, before a later one would see it
        ([link("up", "../..")], "link out of the release directory: up -> ../.."),
        ([link("up", "..")], "link out of the release directory: up -> .."),
        ([link("a/up", "../../x")], "link out of the release directory: a/up -> ../../x"),
        ([link("etc", "/etc")], "link out of the release directory: etc -> /etc"),
        # each link inside on its own, outside together: the check after all are made
        ([link("d", "."), link("e", "d/..")], "link out of the release directory: e"),
        ([entry("a/", type=tarfile.DIRTYPE), entry("a", b"x")],
         "a is both a directory and a file in the archive"),
    ],
)  # fmt: skip
def test_each_attack_is_refused_by_its_own_check(
    tmp_path: Path, members: list[Member], message: str
) -> None:
    assert refused(tmp_path, *members) == message


def test_a_hard_link_through_a_symlinked_directory_reaches_nothing_outside(
    tmp_path: Path,
) -> None:
    """``d -> .`` and ``e -> d/..`` are each inside as written; ``e`` really is the releases
    directory, where another release keeps its files: a hard link to one is refused before
    it is made (a link made would stay even when the archive is refused later)."""
    neighbour = tmp_path / "releases" / "other" / "secret.txt"
    neighbour.parent.mkdir(parents=True)
    neighbour.write_text("another release's file\n")
    members = [link("d", "."), link("e", "d/.."), link("h", "e/other/secret.txt", tarfile.LNKTYPE)]
    with pytest.raises(ArtifactError) as caught:
        unpack(make_tar(tmp_path / "bad.tgz", *members), tmp_path / "releases" / "v1")
    assert caught.value.message == "link out of the release directory: h"
    assert sorted(os.listdir(tmp_path / "releases")) == ["other"]
    assert neighbour.stat().st_nlink == 1


def test_hard_links_inside_work_and_count(tmp_path: Path) -> None:
    members = [entry("a/data", b"12345"), link("b/copy", "a/data", tarfile.LNKTYPE)]
    release = tmp_path / "releases" / "v1"
    result = unpack(make_tar(tmp_path / "ok.tgz", *members), release)
    assert result.path == release and result.files == 2
    assert (release / "b" / "copy").read_bytes() == b"12345"
    assert os.path.samefile(release / "a" / "data", release / "b" / "copy")
    # the linked bytes count toward the limit, as a copy would
    at_limit = unpack(make_tar(tmp_path / "ok2.tgz", *members), tmp_path / "r2", max_bytes=10**6)
    exact = at_limit.bytes
    assert exact >= 10
    unpack(make_tar(tmp_path / "ok3.tgz", *members), tmp_path / "r3", max_bytes=exact)
    with pytest.raises(ArtifactError, match=f"unpacks to more than {exact - 1} bytes"):
        unpack(make_tar(tmp_path / "bad.tgz", *members), tmp_path / "r4", max_bytes=exact - 1)
    without_link = unpack(make_tar(tmp_path / "ok4.tgz", members[0]), tmp_path / "r5")
    assert exact == without_link.bytes + 5


def test_the_bytes_counted_are_the_members_sizes(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", entry("a", b"12345"), entry("b", b"yy"))
    assert unpack(archive, tmp_path / "r").bytes == 7


def test_the_limits_hold_exactly_at_their_values(tmp_path: Path) -> None:
    members = [entry(f"f{i}", b"x" * i) for i in range(10)]
    exact = unpack(make_tar(tmp_path / "a.tgz", *members), tmp_path / "r1", max_members=10)
    assert exact.files == 10
    unpack(make_tar(tmp_path / "b.tgz", *members), tmp_path / "r2", max_bytes=exact.bytes)
    with pytest.raises(ArtifactError, match="more than 9 entries"):
        unpack(make_tar(tmp_path / "c.tgz", *members), tmp_path / "r3", max_members=9)
    with pytest.raises(ArtifactError, match=f"unpacks to more than {exact.bytes - 1} bytes"):
        unpack(make_tar(tmp_path / "d.tgz", *members), tmp_path / "r4", max_bytes=exact.bytes - 1)


def test_data_after_the_tar_counts_toward_the_limit(tmp_path: Path) -> None:
    """A bomb can follow the tar's end inside the same gzip stream: it is read (to check the
    stream) and counted, not skipped."""
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("empty"), io.BytesIO(b""))
    archive = tmp_path / "tail.tgz"
    archive.write_bytes(gzip.compress(inner.getvalue() + bytes(64 * 1024 * 1024)))
    tracemalloc.start()
    try:
        with pytest.raises(ArtifactError, match="unpacks to more than 1048576 bytes"):
            unpack(archive, tmp_path / "releases" / "v1", max_bytes=1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # read a chunk at a time: the tail is never held whole (a bomb would be, in memory)
    assert peak < 16 * 1024 * 1024, peak


@pytest.mark.usefixtures("no_umask")
def test_modes_times_and_deep_paths_are_as_the_archive_says(tmp_path: Path) -> None:
    members = [
        entry("deep/er/still/file", b"f", mode=0o644, mtime=1_000_000),
        entry("run", b"#!/bin/sh\n", mode=0o4755, mtime=2_000_000),  # setuid dropped
        entry("locked", b"l", mode=0o000),  # readable by its owner still
        entry("empty/", type=tarfile.DIRTYPE, mode=0o777),
    ]
    release = tmp_path / "releases" / "v1"
    result = unpack(make_tar(tmp_path / "ok.tgz", *members), release)
    assert result.files == 3

    def mode(path: str) -> int:
        return stat.S_IMODE(os.lstat(release / path).st_mode)

    assert (release / "deep" / "er" / "still" / "file").read_bytes() == b"f"
    assert [mode(p) for p in ("deep", "deep/er", "deep/er/still", "empty")] == [0o755] * 4
    assert (mode("deep/er/still/file"), mode("run"), mode("locked")) == (0o644, 0o755, 0o600)
    assert os.lstat(release / "deep/er/still/file").st_mtime == 1_000_000
    assert os.lstat(release / "run").st_mtime == 2_000_000
    assert os.listdir(release / "empty") == []


def test_a_later_entry_of_the_same_name_replaces_the_earlier(tmp_path: Path) -> None:
    """As tar does: the last one wins, and a symlink it replaces is not written through."""
    members = [entry("f", b"first"), entry("f", b"second"), link("g", "h"), entry("g", b"file")]
    release = tmp_path / "releases" / "v1"
    unpack(make_tar(tmp_path / "dup.tgz", *members), release)
    assert (release / "f").read_bytes() == b"second"
    assert not os.path.islink(release / "g") and (release / "g").read_bytes() == b"file"
    assert not os.path.lexists(release / "h")


def test_releases_are_unpacked_side_by_side_into_a_parent_made_on_demand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent is made (however deep) or reused; the staging directory is a hidden
    sibling of the release (``.<name>.*``), so the rename into place is atomic and a
    half-unpacked release is never seen under its name."""
    staged: list[Path] = []
    run = artifacts._Extractor.run

    def spy(self: artifacts._Extractor, archive: Path) -> tuple[int, int]:
        staged.append(self.dest)
        return run(self, archive)

    monkeypatch.setattr(artifacts._Extractor, "run", spy)
    parent = tmp_path / "data" / "apps" / "shop" / "releases"
    for number in ("1", "2"):
        unpack(make_tar(tmp_path / f"{number}.tgz", entry("f", number.encode())), parent / number)
    assert sorted(os.listdir(parent)) == ["1", "2"]
    assert (parent / "2" / "f").read_bytes() == b"2"
    assert [p.parent for p in staged] == [parent, parent]
    assert [p.name[:3] for p in staged] == [".1.", ".2."]


def test_the_writer_stages_in_a_partial_file_and_closes_for_good(tmp_path: Path) -> None:
    path = tmp_path / "a.tgz"
    writer = ArchiveWriter(path, max_bytes=10)
    writer.write(b"0123456789")  # exactly the limit
    assert os.listdir(tmp_path) == ["a.tgz.partial"]
    digest = writer.finish("84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882")
    assert path.read_bytes() == b"0123456789" and digest.startswith("84d89877")
    for late in (lambda: writer.write(b"x"), lambda: writer.finish(digest)):
        with pytest.raises(ArtifactError) as caught:
            late()
        assert caught.value.message == "the archive is already closed"

    aborted = ArchiveWriter(tmp_path / "b.tgz")
    aborted.write(b"partial")
    aborted.abort()
    aborted.abort()  # twice is harmless (the upload's error path and its `with` both do it)
    with pytest.raises(ArtifactError, match="already closed"):
        aborted.write(b"more")
    assert os.listdir(tmp_path) == ["a.tgz"]

    gone = ArchiveWriter(tmp_path / "c.tgz")
    gone.write(b"x")
    (tmp_path / "c.tgz.partial").unlink()  # removed meanwhile (a cleanup of the directory)
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        gone.finish("0" * 64)
