"""Networks (their apps are in ``apps.py``). Every lookup is scoped to the owning user."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from maxlocal.store.db import Database, utc_now


class NameTaken(Exception):
    pass


@dataclass(frozen=True)
class Network:
    id: int
    user_id: int
    name: str
    created_at: str
    app_count: int


_NETWORK_SELECT = (
    "SELECT n.*, (SELECT count(*) FROM apps a WHERE a.network_id = n.id) AS app_count "
    "FROM networks n"
)


def _network(row: sqlite3.Row) -> Network:
    return Network(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        created_at=row["created_at"],
        app_count=row["app_count"],
    )


def insert_named(db: Database, table: str, owner_column: str, owner: int, name: str) -> None:
    """Insert a network or app; NameTaken when the name is not unique where it must be."""
    try:
        with db.transaction() as conn:
            conn.execute(
                f"INSERT INTO {table} ({owner_column}, name, created_at) VALUES (?, ?, ?)",
                (owner, name, utc_now()),
            )
    except sqlite3.IntegrityError as e:
        raise NameTaken(name) from e


class Networks:
    def __init__(self, db: Database) -> None:
        self.db = db

    def of_user(self, user_id: int) -> list[Network]:
        rows = self.db.connection().execute(
            f"{_NETWORK_SELECT} WHERE n.user_id = ? ORDER BY n.name", (user_id,)
        )
        return [_network(row) for row in rows]

    def get(self, user_id: int, name: str) -> Network | None:
        row = (
            self.db.connection()
            .execute(f"{_NETWORK_SELECT} WHERE n.user_id = ? AND n.name = ?", (user_id, name))
            .fetchone()
        )
        return _network(row) if row else None

    def owner(self, name: str) -> int | None:
        """The user a network belongs to (names are unique on the platform)."""
        row = (
            self.db.connection()
            .execute("SELECT user_id FROM networks WHERE name = ?", (name,))
            .fetchone()
        )
        return int(row["user_id"]) if row else None

    def create(self, user_id: int, name: str) -> Network:
        """Raises NameTaken if any user already has a network of that name."""
        insert_named(self.db, "networks", "user_id", user_id, name)
        created = self.get(user_id, name)
        assert created is not None
        return created

    def delete(self, network_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    def delete_if_empty(self, network_id: int) -> bool:
        """Delete the network unless it has apps; False if it had some."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM networks WHERE id = ? "
                "AND NOT EXISTS (SELECT 1 FROM apps WHERE network_id = ?)",
                (network_id, network_id),
            )
        return cur.rowcount == 1
