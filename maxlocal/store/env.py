"""Vars and secrets of a scope: a network (app_id None) or one app of it.

Both kinds share one table, so a key is either a var or a secret within a scope.
Secret values are stored only encrypted, beside their digest.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from maxlocal.store.db import Database, utc_now

Kind = Literal["var", "secret"]


@dataclass(frozen=True)
class Scope:
    network_id: int
    app_id: int | None = None


@dataclass(frozen=True)
class Entry:
    key: str
    kind: Kind
    value: str | None
    digest: str | None
    updated_at: str
    app_level: bool
    ciphertext: bytes | None = None


@dataclass(frozen=True)
class NewEntry:
    value: str | None = None
    ciphertext: bytes | None = None
    digest: str | None = None


class KindConflict(Exception):
    def __init__(self, key: str, existing: Kind) -> None:
        super().__init__(key)
        self.key = key
        self.existing = existing


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        key=row["key"],
        kind=row["kind"],
        value=row["value"],
        digest=row["digest"],
        updated_at=row["updated_at"],
        app_level=row["app_id"] is not None,
        ciphertext=row["ciphertext"],
    )


class Env:
    def __init__(self, db: Database) -> None:
        self.db = db

    def entries(self, scope: Scope) -> list[Entry]:
        """The entries set in exactly this scope, sorted by key."""
        rows = self.db.connection().execute(
            "SELECT * FROM env_entries WHERE network_id = ? AND app_id IS ? ORDER BY key",
            (scope.network_id, scope.app_id),
        )
        return [_entry(row) for row in rows]

    def set(self, scope: Scope, kind: Kind, entries: dict[str, NewEntry]) -> None:
        """Create or replace every key given, all or none.

        Raises KindConflict if a key is already set in this scope as the other kind.
        """
        now = utc_now()
        with self.db.transaction() as conn:
            for key, new in entries.items():
                row = conn.execute(
                    "SELECT kind FROM env_entries WHERE network_id = ? AND app_id IS ? AND key = ?",
                    (scope.network_id, scope.app_id, key),
                ).fetchone()
                if row is not None and row["kind"] != kind:
                    raise KindConflict(key, row["kind"])
                if row is None:
                    conn.execute(
                        "INSERT INTO env_entries (network_id, app_id, key, kind, value, "
                        "ciphertext, digest, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (scope.network_id, scope.app_id, key, kind, new.value, new.ciphertext,
                         new.digest, now),
                    )  # fmt: skip
                else:
                    conn.execute(
                        "UPDATE env_entries SET value = ?, ciphertext = ?, digest = ?, "
                        "updated_at = ? WHERE network_id = ? AND app_id IS ? AND key = ?",
                        (new.value, new.ciphertext, new.digest, now, scope.network_id,
                         scope.app_id, key),
                    )  # fmt: skip

    def delete(self, scope: Scope, kind: Kind, key: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM env_entries "
                "WHERE network_id = ? AND app_id IS ? AND kind = ? AND key = ?",
                (scope.network_id, scope.app_id, kind, key),
            )
        return cur.rowcount == 1
