"""Failures of the data directory itself (full, read-only), told apart from bugs.

A full disk answers ``507 insufficient_storage`` and a read-only one ``503
unavailable``, with a hint to fix the disk rather than a traceback's "see the log".
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass

FULL_HINT = "free space in the platform's data directory; nothing was changed"
READ_ONLY_HINT = "make the platform's data directory writable again; nothing was changed"


@dataclass(frozen=True)
class StorageFailure:
    status: int
    code: str
    message: str
    hint: str


FULL = StorageFailure(507, "insufficient_storage", "the platform's disk is full", FULL_HINT)
READ_ONLY = StorageFailure(
    503, "unavailable", "the platform's data directory is read-only", READ_ONLY_HINT
)


def storage_failure(exc: BaseException) -> StorageFailure | None:
    """FULL or READ_ONLY when ``exc`` (or what caused it) is one, else None."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, sqlite3.OperationalError):
            name = getattr(seen, "sqlite_errorname", "")
            if name.startswith("SQLITE_FULL"):
                return FULL
            if name.startswith("SQLITE_READONLY"):
                return READ_ONLY
        if isinstance(seen, OSError):
            if seen.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                return FULL
            if seen.errno == errno.EROFS:
                return READ_ONLY
        seen = seen.__cause__ or seen.__context__
    return None
