"""A user's container-registry credentials (``rig create registry HOST --username U``), used to
pull the images of their image deploys.

One row per (user, host). The password is stored only encrypted, by the same ``Vault`` as
secrets; listing returns hosts and user names, never a password or its ciphertext. Why per user
and not per network: it is how ``docker login`` and ``flyctl auth docker`` work (an account's
access to a registry), and the credentials are needed again only by that user's deploys.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from maxlocal.store.db import Database, utc_now


@dataclass(frozen=True)
class Registry:
    host: str
    username: str
    created_at: str
    updated_at: str


def _registry(row: sqlite3.Row) -> Registry:
    return Registry(row["host"], row["username"], row["created_at"], row["updated_at"])


class Registries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def of_user(self, user_id: int) -> list[Registry]:
        rows = self.db.connection().execute(
            "SELECT * FROM registries WHERE user_id = ? ORDER BY host", (user_id,)
        )
        return [_registry(row) for row in rows]

    def set(
        self, user_id: int, host: str, username: str, ciphertext: bytes
    ) -> tuple[Registry, bool]:
        """Store (or replace) the credentials for ``host``; the row and whether it is new."""
        now = utc_now()
        with self.db.transaction() as conn:
            found = conn.execute(
                "SELECT id FROM registries WHERE user_id = ? AND host = ?", (user_id, host)
            ).fetchone()
            if found is None:
                conn.execute(
                    "INSERT INTO registries (user_id, host, username, ciphertext, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (user_id, host, username, ciphertext, now, now),
                )
            else:
                conn.execute(
                    "UPDATE registries SET username = ?, ciphertext = ?, updated_at = ? "
                    "WHERE id = ?",
                    (username, ciphertext, now, found["id"]),
                )
            row = conn.execute(
                "SELECT * FROM registries WHERE user_id = ? AND host = ?", (user_id, host)
            ).fetchone()
        return _registry(row), found is None

    def credentials(self, user_id: int, host: str) -> tuple[str, bytes] | None:
        """(username, ciphertext) for ``host``: for the platform's own pull, never an answer."""
        row = (
            self.db.connection()
            .execute(
                "SELECT username, ciphertext FROM registries WHERE user_id = ? AND host = ?",
                (user_id, host),
            )
            .fetchone()
        )
        return (row["username"], bytes(row["ciphertext"])) if row else None

    def delete(self, user_id: int, host: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM registries WHERE user_id = ? AND host = ?", (user_id, host)
            )
        return cur.rowcount == 1
