"""Device-login codes: a pending login a signed-in person approves on the platform's page."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from maxlocal.store.db import Database, utc_now


@dataclass(frozen=True)
class DeviceCode:
    id: int
    user_code: str
    status: str
    user_id: int | None
    expires_at: float
    interval: int
    last_poll: float | None
    created_at: str = ""
    client_name: str | None = None
    client_address: str | None = None

    @property
    def expired(self) -> bool:
        return self.expires_at <= time.time()


def _code(row: sqlite3.Row) -> DeviceCode:
    return DeviceCode(
        id=row["id"],
        user_code=row["user_code"],
        status=row["status"],
        user_id=row["user_id"],
        expires_at=row["expires_at"],
        interval=row["interval"],
        last_poll=row["last_poll"],
        created_at=row["created_at"],
        client_name=row["client_name"],
        client_address=row["client_address"],
    )


class DeviceCodes:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        device_hash: str,
        user_code: str,
        ttl: int,
        interval: int,
        client_name: str | None = None,
        client_address: str | None = None,
    ) -> DeviceCode:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM device_codes WHERE expires_at < ?", (time.time() - 3600,))
            cur = conn.execute(
                "INSERT INTO device_codes"
                " (device_hash, user_code, created_at, expires_at, interval, client_name,"
                " client_address) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    device_hash,
                    user_code,
                    utc_now(),
                    time.time() + ttl,
                    interval,
                    client_name,
                    client_address,
                ),
            )
            row = conn.execute("SELECT * FROM device_codes WHERE id = ?", (cur.lastrowid,))
            return _code(row.fetchone())

    def by_device(self, device_hash: str) -> DeviceCode | None:
        row = (
            self.db.connection()
            .execute("SELECT * FROM device_codes WHERE device_hash = ?", (device_hash,))
            .fetchone()
        )
        return _code(row) if row else None

    def by_user_code(self, user_code: str) -> DeviceCode | None:
        row = (
            self.db.connection()
            .execute("SELECT * FROM device_codes WHERE user_code = ?", (user_code,))
            .fetchone()
        )
        return _code(row) if row else None

    def polled(self, code_id: int, interval: int) -> None:
        self.db.connection().execute(
            "UPDATE device_codes SET last_poll = ?, interval = ? WHERE id = ?",
            (time.time(), interval, code_id),
        )

    def decide(self, code_id: int, user_id: int, approved: bool) -> bool:
        """Approve or deny a pending code; False when it is no longer pending."""
        cur = self.db.connection().execute(
            "UPDATE device_codes SET status = ?, user_id = ? WHERE id = ? AND status = 'pending'",
            ("approved" if approved else "denied", user_id, code_id),
        )
        return cur.rowcount == 1

    def use(self, code_id: int) -> bool:
        """Mark an approved code used, once: True for the one poll that gets the tokens."""
        cur = self.db.connection().execute(
            "UPDATE device_codes SET status = 'used' WHERE id = ? AND status = 'approved'",
            (code_id,),
        )
        return cur.rowcount == 1
