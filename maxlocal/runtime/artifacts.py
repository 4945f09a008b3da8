"""Receive uploaded archives with their checksum verified, and unpack them safely.

``ArchiveWriter`` hashes while it writes and only keeps the file when the size and
sha256 are right. ``unpack`` extracts member by member with explicit checks (no
``extractall``) into a temporary sibling directory that is renamed into place on
success and removed on any failure, so a bad archive leaves nothing behind.

``tarfile`` reads a pax or GNU long-name header's body whole into memory, however large its
512-byte block says it is: a 285 KiB gzip'd header of 300 MB took the platform from 94 MB to
981 MB (issue 15). Every tar read here goes through ``_BoundedTarInfo``, which checks that
size field before the body is read; ``check_headers`` does it at upload time, so such an
archive is refused at once.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024
MAX_UNPACKED_BYTES = 4 * 1024 * 1024 * 1024
MAX_MEMBERS = 200_000
MAX_HEADER_BYTES = 64 * 1024
"""The body of one pax or GNU long-name header, and of all pax global headers together: paths
(at most 4096 bytes on Linux), link targets, times and owners need far less."""
MAX_HEADER_CHAIN = 4
"""Extended headers in a row before a member (pax ``g`` and ``x``, GNU ``L`` and ``K``): each
adds a level of recursion in ``tarfile``."""
_COPY_BYTES = 1024 * 1024
_EXTENDED = {
    tarfile.XHDTYPE: "pax",
    tarfile.SOLARIS_XHDTYPE: "pax",
    tarfile.XGLTYPE: "pax global",
    tarfile.GNUTYPE_LONGNAME: "GNU long-name",
    tarfile.GNUTYPE_LONGLINK: "GNU long-link",
}


class ArtifactError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ArchiveWriter:
    """Write an incoming archive to ``path``, hashing it and enforcing ``max_bytes``.

    Data goes to ``<path>.partial``; ``finish(expected_sha256)`` renames it into place
    when the digest matches. Any failure, or leaving the ``with`` block without
    ``finish``, removes the partial file.
    """

    def __init__(self, path: str | Path, max_bytes: int = MAX_ARCHIVE_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.size = 0
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._digest = hashlib.sha256()
        self._file: BinaryIO | None = open(self._partial, "wb")  # noqa: SIM115

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            raise ArtifactError("the archive is already closed")
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.abort()
            raise ArtifactError(f"the archive is larger than the limit of {self.max_bytes} bytes")
        self._digest.update(chunk)
        self._file.write(chunk)

    def finish(self, expected_sha256: str) -> str:
        """Keep the archive if its sha256 is ``expected_sha256``; return the digest."""
        if self._file is None:
            raise ArtifactError("the archive is already closed")
        self._file.close()
        self._file = None
        actual = self._digest.hexdigest()
        if actual != expected_sha256.strip().lower():
            self._partial.unlink(missing_ok=True)
            raise ArtifactError(
                f"checksum mismatch: the upload has sha256 {actual}, "
                f"the client sent {expected_sha256}"
            )
        os.replace(self._partial, self.path)
        return actual

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self.abort()


class _BoundedTarInfo(tarfile.TarInfo):
    """A tar member whose extended headers are checked against the limits above before
    ``tarfile`` reads them, and that refuses sparse files (their maps are read whole too, and
    source archives have none)."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        kind = _EXTENDED.get(self.type)
        if self.type == tarfile.GNUTYPE_SPARSE:
            self._refuse_sparse()
        if kind is None:
            return super()._proc_member(tar)  # type: ignore[misc]
        if self.size > MAX_HEADER_BYTES:
            raise ArtifactError(
                f"the archive has a {kind} header of {self.size} bytes, over the limit of "
                f"{MAX_HEADER_BYTES}: not an archive of source files"
            )
        counts: dict[str, int] = tar.__dict__.setdefault("_bounded", {"chain": 0, "global": 0})
        if self.type == tarfile.XGLTYPE:
            counts["global"] += self.size
            if counts["global"] > MAX_HEADER_BYTES:
                raise ArtifactError(
                    f"the archive's pax global headers are over the limit of {MAX_HEADER_BYTES}"
                    " bytes together"
                )
        counts["chain"] += 1
        if counts["chain"] > MAX_HEADER_CHAIN:
            raise ArtifactError(
                f"the archive has more than {MAX_HEADER_CHAIN} extended headers in a row"
            )
        try:
            return super()._proc_member(tar)  # type: ignore[misc]
        finally:
            counts["chain"] -= 1

    def _refuse_sparse(self, *args: object) -> None:
        raise ArtifactError(f"sparse files are not supported in an archive: {self.name}")

    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _refuse_sparse


def check_headers(archive: str | Path, max_members: int = MAX_MEMBERS) -> None:
    """Read every header of the gzip'd tar ``archive`` (skipping the contents), so that one
    over the limits is refused when it is uploaded, not later in the background."""
    try:
        with gzip.open(archive, "rb") as raw, _open_tar(raw) as tar:
            for count, _member in enumerate(tar, 1):
                if count > max_members:
                    return  # unpack says so, with the release
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError):
        return  # corrupt or truncated: unpack says so, with the release


def _open_tar(raw: gzip.GzipFile) -> tarfile.TarFile:
    return tarfile.open(fileobj=raw, mode="r|", tarinfo=_BoundedTarInfo)


@dataclass(frozen=True)
class Unpacked:
    path: Path
    files: int
    bytes: int


def unpack(
    archive: str | Path,
    release_dir: str | Path,
    max_bytes: int = MAX_UNPACKED_BYTES,
    max_members: int = MAX_MEMBERS,
) -> Unpacked:
    """Unpack the gzip'd tar ``archive`` into the new directory ``release_dir``.

    Raises ArtifactError for path traversal, absolute paths, links leading out of
    the release, device files and fifos, more than ``max_bytes`` unpacked or
    ``max_members`` entries, and corrupt or truncated archives.
    """
    release_dir = Path(release_dir)
    if os.path.lexists(release_dir):
        raise ArtifactError(f"release directory {release_dir} already exists")
    release_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{release_dir.name}.", dir=release_dir.parent))
    try:
        files, total = _Extractor(staging, max_bytes, max_members).run(Path(archive))
        os.rename(staging, release_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Unpacked(release_dir, files, total)


def _clean_name(name: str) -> str:
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArtifactError(f"absolute path in archive: {name}")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArtifactError(f"path traversal in archive: {name}")
    return "/".join(parts)


class _Extractor:
    def __init__(self, dest: Path, max_bytes: int, max_members: int) -> None:
        self.dest = dest
        self.real_dest = os.path.realpath(dest)
        self.max_bytes = max_bytes
        self.max_members = max_members
        self.total = 0
        self.files = 0
        self.links: list[str] = []

    def run(self, archive: Path) -> tuple[int, int]:
        try:
            with gzip.open(archive, "rb") as raw:
                with _open_tar(raw) as tar:
                    for count, member in enumerate(tar, 1):
                        if count > self.max_members:
                            raise ArtifactError(
                                f"the archive has more than {self.max_members} entries"
                            )
                        self._extract(tar, member)
                self._drain(raw)
        except ArtifactError:
            raise
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
            raise ArtifactError(f"the archive is corrupt or truncated: {exc}") from exc
        for link in self.links:
            if not self._inside(os.path.realpath(link)):
                rel = os.path.relpath(link, self.dest)
                raise ArtifactError(f"link out of the release directory: {rel}")
        return self.files, self.total

    def _drain(self, raw: gzip.GzipFile) -> None:
        """Read to the end of the gzip stream, so truncation and bad CRCs are noticed."""
        while chunk := raw.read(_COPY_BYTES):
            self._count(len(chunk))

    def _count(self, size: int) -> None:
        self.total += size
        if self.total > self.max_bytes:
            raise ArtifactError(f"the archive unpacks to more than {self.max_bytes} bytes")

    def _inside(self, real: str) -> bool:
        return real == self.real_dest or real.startswith(self.real_dest + os.sep)

    def _target(self, name: str) -> str:
        """The path for ``name``, after making sure no parent is a symlink or a file."""
        path = self.dest
        for part in name.split("/")[:-1]:
            path = path / part
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                os.mkdir(path, 0o755)
                continue
            if not stat.S_ISDIR(mode):
                raise ArtifactError(f"{name} would be written through a link or file: {part}")
        target = str(path / name.split("/")[-1])
        if os.path.lexists(target) and not stat.S_ISDIR(os.lstat(target).st_mode):
            os.unlink(target)
        return target

    def _extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = _clean_name(member.name)
        if not name:
            return
        if member.isdir():
            target = self._target(name)
            if not os.path.lexists(target):
                os.mkdir(target, 0o755)
        elif member.isreg():
            self._write_file(tar, member, name)
        elif member.issym():
            self._symlink(member, name)
        elif member.islnk():
            self._hardlink(member, name)
        else:
            raise ArtifactError(f"unsupported entry type in archive (device, fifo...): {name}")

    def _write_file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, name: str) -> None:
        self._count(member.size)
        target = self._target(name)
        if os.path.lexists(target):
            raise ArtifactError(f"{name} is both a directory and a file in the archive")
        source = tar.extractfile(member)
        if source is None:
            raise ArtifactError(f"cannot read {name} from the archive")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, (member.mode & 0o755) | 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, _COPY_BYTES)
        os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)
        self.files += 1

    def _symlink(self, member: tarfile.TarInfo, name: str) -> None:
        link = member.linkname
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), link))
        if posixpath.isabs(link) or resolved == ".." or resolved.startswith("../"):
            raise ArtifactError(f"link out of the release directory: {name} -> {link}")
        target = self._target(name)
        os.symlink(link, target)
        self.links.append(target)
        self.files += 1

    def _hardlink(self, member: tarfile.TarInfo, name: str) -> None:
        source = os.path.join(self.dest, _clean_name(member.linkname))
        if os.path.islink(source) or not os.path.isfile(source):
            raise ArtifactError(f"hard link to a missing or non-regular file: {name}")
        if not self._inside(os.path.realpath(source)):
            raise ArtifactError(f"link out of the release directory: {name}")
        self._count(os.path.getsize(source))
        os.link(source, self._target(name), follow_symlinks=False)
        self.files += 1
