"""The audit trail's table: one row per remote session, written when it starts and when it ends."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from maxlocal.store.db import Database, conditions, utc_now


@dataclass(frozen=True)
class AuditRow:
    """A row of ``audit_sessions``, and as it is, a record of ``GET /audit`` (the API's model)."""

    id: int
    session: str
    user_id: int
    user_email: str
    network: str
    app: str | None
    kind: str
    command: str
    client: str | None
    started_at: str
    ended_at: str | None
    exit_code: int | None
    duration_s: float | None
    reason: str | None


@dataclass(frozen=True)
class NewAuditRow:
    session: str
    user_id: int
    network: str
    app: str | None
    kind: str
    command: str
    client: str | None


def _row(row: sqlite3.Row) -> AuditRow:
    return AuditRow(**dict(row))


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, new: NewAuditRow) -> int:
        """Record a session that starts now; the user's email is taken from the users table."""
        cursor = self.db.connection().execute(
            "INSERT INTO audit_sessions (session, user_id, user_email, network, app, kind, "
            "command, client, started_at) VALUES "
            "(?, ?, coalesce((SELECT email FROM users WHERE id = ?), ''), ?, ?, ?, ?, ?, ?)",
            (
                new.session,
                new.user_id,
                new.user_id,
                new.network,
                new.app,
                new.kind,
                new.command,
                new.client,
                utc_now(),
            ),
        )
        return int(cursor.lastrowid or 0)

    def end(self, row_id: int, exit_code: int, duration_s: float, reason: str) -> None:
        self.db.connection().execute(
            "UPDATE audit_sessions SET ended_at = ?, exit_code = ?, duration_s = ?, reason = ? "
            "WHERE id = ?",
            (utc_now(), exit_code, duration_s, reason, row_id),
        )

    def of_user(
        self,
        user_id: int,
        *,
        network: str | None = None,
        app: str | None = None,
        since: str | None = None,
    ) -> list[AuditRow]:
        """The user's rows, oldest first; ``since`` is an RFC 3339 time (UTC, ``Z``)."""
        where, values = conditions(
            ("network = ?", network), ("app = ?", app), ("started_at >= ?", since)
        )
        rows = self.db.connection().execute(
            f"SELECT * FROM audit_sessions WHERE user_id = ?{where} ORDER BY started_at, id",
            [user_id, *values],
        )
        return [_row(row) for row in rows]
