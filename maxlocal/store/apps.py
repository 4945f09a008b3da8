"""The apps of networks. Every lookup is scoped to the owning user or to a network."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from maxlocal.store.db import Database, conditions
from maxlocal.store.networks import insert_named


@dataclass(frozen=True)
class App:
    id: int
    network_id: int
    network: str
    name: str
    state: str
    created_at: str
    release: int | None = None
    instances: int | None = None
    """How many web processes it runs (``rig scale``); None: as its ``rig.toml`` says."""

    @property
    def key(self) -> str:
        """The app's name on the runtime and in the log store: ``<network>/<app>``."""
        return f"{self.network}/{self.name}"


_APP_SELECT = "SELECT a.*, n.name AS network FROM apps a JOIN networks n ON n.id = a.network_id"


def _app(row: sqlite3.Row) -> App:
    return App(
        id=row["id"],
        network_id=row["network_id"],
        network=row["network"],
        name=row["name"],
        state=row["state"],
        created_at=row["created_at"],
        release=row["release"],
        instances=row["instances"],
    )


class Apps:
    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, user_id: int, network: str | None = None, name: str | None = None) -> list[App]:
        where, values = conditions(("n.name = ?", network), ("a.name = ?", name))
        rows = self.db.connection().execute(
            f"{_APP_SELECT} WHERE n.user_id = ?{where} ORDER BY n.name, a.name", [user_id, *values]
        )
        return [_app(row) for row in rows]

    def get(self, network_id: int, name: str) -> App | None:
        row = (
            self.db.connection()
            .execute(f"{_APP_SELECT} WHERE a.network_id = ? AND a.name = ?", (network_id, name))
            .fetchone()
        )
        return _app(row) if row else None

    def create(self, network_id: int, name: str) -> App:
        """Raises NameTaken if the network already has an app of that name."""
        insert_named(self.db, "apps", "network_id", network_id, name)
        created = self.get(network_id, name)
        assert created is not None
        return created

    def delete(self, app_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM apps WHERE id = ?", (app_id,))

    def by_key(self, network: str, name: str) -> App | None:
        """The app of any user (network names are unique on the platform)."""
        row = (
            self.db.connection()
            .execute(f"{_APP_SELECT} WHERE n.name = ? AND a.name = ?", (network, name))
            .fetchone()
        )
        return _app(row) if row else None

    def everything(self) -> list[App]:
        """Every app of every user, for the runtime and the metrics."""
        rows = self.db.connection().execute(f"{_APP_SELECT} ORDER BY n.name, a.name")
        return [_app(row) for row in rows]

    def set_state(self, network: str, name: str, state: str) -> None:
        self.db.connection().execute(
            "UPDATE apps SET state = ? WHERE name = ? "
            "AND network_id = (SELECT id FROM networks WHERE name = ?)",
            (state, name, network),
        )

    def set_instances(self, app_id: int, instances: int) -> None:
        self.db.connection().execute(
            "UPDATE apps SET instances = ? WHERE id = ?", (instances, app_id)
        )
