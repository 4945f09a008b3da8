"""The SQLite database: one connection per thread, WAL, migrations."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from maxlocal.store.schema import MIGRATIONS

DB_FILE = "maxlocal.db"


def utc_now() -> str:
    """The current time as an RFC 3339 string in UTC, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_at(timestamp: float) -> str:
    """A Unix time as ``utc_now`` writes it."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions(*pairs: tuple[str, object | None]) -> tuple[str, list[object]]:
    """Optional filters of a query: ``(" AND n.name = ?", ["shop"])`` for the pairs
    ``("n.name = ?", value)`` whose value is not None, to append to a WHERE clause."""
    given = [(condition, value) for condition, value in pairs if value is not None]
    return "".join(f" AND {c}" for c, _ in given), [v for _, v in given]


class Database:
    def __init__(self, path: Path, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._migrate()

    @classmethod
    def open(cls, data_dir: Path) -> Database:
        return cls(data_dir / DB_FILE)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, in autocommit mode: every statement is its own transaction."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=self._busy_timeout_ms / 1000
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken with BEGIN IMMEDIATE so concurrent writers queue up."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version, script in enumerate(MIGRATIONS, start=1):
                if version > current:
                    for statement in script.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
