"""Releases of apps: numbered per app, immutable but for their status as they go.

The environment snapshot is kept as JSON: vars in clear, secrets as the ciphertexts
the env store already holds (so nothing is decrypted to take a snapshot).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

from maxlocal.store.db import Database, utc_now

Status = Literal["pending", "building", "starting", "active", "superseded", "failed"]
Source = Literal["deploy", "config", "rollback"]
UNFINISHED = ("pending", "building", "starting")


@dataclass(frozen=True)
class Snapshot:
    vars: dict[str, str]
    secrets: dict[str, str]


@dataclass(frozen=True)
class NewRelease:
    source: Source
    checksum: str
    size: int
    env: Snapshot
    created_by: str
    message: str = ""
    git: dict[str, Any] | None = None
    artifact_release: int | None = None
    processes: dict[str, str] | None = None
    idempotency_key: str | None = None
    image: str | None = None
    """An image deploy's reference as asked for (``registry/app:tag``); None for a source deploy."""
    image_digest: str | None = None
    """The digest reference it resolved to (``registry/app@sha256:...``): what runs, and what a
    rollback runs again."""


@dataclass(frozen=True)
class Release:
    id: int
    app_id: int
    number: int
    status: Status
    source: Source
    artifact_release: int
    checksum: str
    size: int
    message: str
    git: dict[str, Any] | None
    created_by: str
    created_at: str
    finished_at: str | None
    env: Snapshot
    processes: dict[str, str] | None
    error: dict[str, Any] | None
    idempotency_key: str | None
    image: str | None = None
    image_digest: str | None = None


def _loads(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


def _release(row: sqlite3.Row) -> Release:
    return Release(
        id=row["id"],
        app_id=row["app_id"],
        number=row["number"],
        status=row["status"],
        source=row["source"],
        artifact_release=row["artifact_release"],
        checksum=row["checksum"],
        size=row["size"],
        message=row["message"],
        git=_loads(row["git"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        env=Snapshot(json.loads(row["env_vars"]), json.loads(row["env_secrets"])),
        processes=_loads(row["processes"]),
        error=_loads(row["error"]),
        idempotency_key=row["idempotency_key"],
        image=row["image"],
        image_digest=row["image_digest"],
    )


class IdempotencyKeyUsed(Exception):
    pass


class Releases:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, app_id: int, new: NewRelease) -> Release:
        """A pending release numbered after the app's last one.

        Raises IdempotencyKeyUsed if the app already has a release with that key."""
        try:
            with self.db.transaction() as conn:
                row = conn.execute(
                    "SELECT coalesce(max(number), 0) + 1 FROM releases WHERE app_id = ?", (app_id,)
                ).fetchone()
                number = row[0]
                cur = conn.execute(
                    "INSERT INTO releases (app_id, number, status, source, artifact_release, "
                    "checksum, size, message, git, created_by, created_at, env_vars, env_secrets, "
                    "processes, idempotency_key, image, image_digest) "
                    "VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (app_id, number, new.source, new.artifact_release or number, new.checksum,
                     new.size, new.message, _dumps(new.git), new.created_by, utc_now(),
                     json.dumps(new.env.vars), json.dumps(new.env.secrets),
                     _dumps(new.processes), new.idempotency_key, new.image, new.image_digest),
                )  # fmt: skip
                release_id = cur.lastrowid
        except sqlite3.IntegrityError as e:
            raise IdempotencyKeyUsed(new.idempotency_key) from e
        created = self.by_id(release_id or 0)
        assert created is not None
        return created

    def by_id(self, release_id: int) -> Release | None:
        row = (
            self.db.connection()
            .execute("SELECT * FROM releases WHERE id = ?", (release_id,))
            .fetchone()
        )
        return _release(row) if row else None

    def get(self, app_id: int, number: int) -> Release | None:
        row = (
            self.db.connection()
            .execute("SELECT * FROM releases WHERE app_id = ? AND number = ?", (app_id, number))
            .fetchone()
        )
        return _release(row) if row else None

    def by_idempotency_key(self, app_id: int, key: str) -> Release | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT * FROM releases WHERE app_id = ? AND idempotency_key = ?", (app_id, key)
            )
            .fetchone()
        )
        return _release(row) if row else None

    def of_app(self, app_id: int) -> list[Release]:
        """Newest first."""
        rows = self.db.connection().execute(
            "SELECT * FROM releases WHERE app_id = ? ORDER BY number DESC", (app_id,)
        )
        return [_release(row) for row in rows]

    def unfinished(self) -> list[Release]:
        rows = self.db.connection().execute(
            f"SELECT * FROM releases WHERE status IN {UNFINISHED!r} ORDER BY id"
        )
        return [_release(row) for row in rows]

    def set_status(
        self, release_id: int, status: Status, processes: dict[str, str] | None = None
    ) -> None:
        self.db.connection().execute(
            "UPDATE releases SET status = ?, processes = coalesce(?, processes) WHERE id = ?",
            (status, _dumps(processes), release_id),
        )

    def set_image_digest(self, release_id: int, digest: str) -> None:
        """Record what an image release's reference resolved to (once pulled)."""
        self.db.connection().execute(
            "UPDATE releases SET image_digest = ? WHERE id = ?", (digest, release_id)
        )

    def fail(self, release_id: int, phase: str, reason: str, log_tail: list[str]) -> None:
        error = {"reason": reason, "phase": phase, "log_tail": log_tail}
        self.db.connection().execute(
            "UPDATE releases SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
            (json.dumps(error), utc_now(), release_id),
        )

    def activate(self, release: Release) -> None:
        """Make ``release`` the app's active one; the one it replaces is superseded."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE releases SET status = 'superseded' "
                "WHERE app_id = ? AND status = 'active' AND id != ?",
                (release.app_id, release.id),
            )
            conn.execute(
                "UPDATE releases SET status = 'active', finished_at = ? WHERE id = ?",
                (utc_now(), release.id),
            )
            conn.execute(
                "UPDATE apps SET release = ? WHERE id = ?", (release.number, release.app_id)
            )


def _dumps(value: object) -> str | None:
    return json.dumps(value) if value is not None else None
