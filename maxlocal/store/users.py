"""Users, API tokens and sessions (token families with their access and refresh tokens)."""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import time
from dataclasses import dataclass

from maxlocal.store.db import Database, utc_at, utc_now

TOUCH_INTERVAL_S = 60


@dataclass(frozen=True)
class User:
    id: int
    email: str
    created_at: str


@dataclass(frozen=True)
class ApiToken:
    id: int
    user_id: int
    name: str
    created_at: str
    last_used_at: str | None


@dataclass(frozen=True)
class RefreshToken:
    id: int
    family_id: str
    user_id: int
    expires_at: float
    used: bool
    family_revoked: bool


@dataclass(frozen=True)
class AccessToken:
    user_id: int
    expires_at: float
    family_revoked: bool
    family_id: str
    api_token_id: int | None


@dataclass(frozen=True)
class Family:
    """A session as a whole: revoked or not, and when its last refresh token expires."""

    user_id: int
    api_token_id: int | None
    revoked: bool
    ends_at: float


def _user(row: sqlite3.Row) -> User:
    return User(id=row["id"], email=row["email"], created_at=row["created_at"])


def _api_token(row: sqlite3.Row) -> ApiToken:
    return ApiToken(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
    )


class Users:
    def __init__(self, db: Database) -> None:
        self.db = db

    def count(self) -> int:
        return self.db.connection().execute("SELECT count(*) FROM users").fetchone()[0]

    def create(self, email: str, password_hash: str) -> User:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?)",
                (email, password_hash, utc_now()),
            )
            row = conn.execute("SELECT * FROM users WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _user(row)

    def get(self, user_id: int) -> User | None:
        row = (
            self.db.connection().execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        )
        return _user(row) if row else None

    def by_email(self, email: str) -> tuple[User, str] | None:
        """The user with this email and their password hash."""
        row = (
            self.db.connection().execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()
        )
        return (_user(row), row["password_hash"]) if row else None


class Tokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create_api_token(self, user_id: int, name: str, token_hash: str) -> ApiToken:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO api_tokens (user_id, name, token_hash, created_at) "
                "VALUES (?, ?, ?, ?)",
                (user_id, name, token_hash, utc_now()),
            )
            row = conn.execute("SELECT * FROM api_tokens WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _api_token(row)

    def list_api_tokens(self, user_id: int) -> list[ApiToken]:
        rows = self.db.connection().execute(
            "SELECT * FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL ORDER BY id",
            (user_id,),
        )
        return [_api_token(row) for row in rows]

    def find_api_token(self, token_hash: str) -> ApiToken | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                (token_hash,),
            )
            .fetchone()
        )
        return _api_token(row) if row else None

    def touch_api_token(self, token_id: int) -> None:
        """Note the token's use, at most once a minute; bookkeeping that never fails a request
        (a full or read-only disk must not turn reads into errors)."""
        now = time.time()
        with contextlib.suppress(sqlite3.OperationalError):
            self.db.connection().execute(
                "UPDATE api_tokens SET last_used_at = ? WHERE id = ? "
                "AND (last_used_at IS NULL OR last_used_at < ?)",
                (utc_now(), token_id, utc_at(now - TOUCH_INTERVAL_S)),
            )

    def revoke_api_token(self, user_id: int, token_id: int) -> bool:
        """Revoke an API token of this user and every session obtained with it."""
        now = utc_now()
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE api_tokens SET revoked_at = ? "
                "WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                (now, token_id, user_id),
            )
            if cur.rowcount != 1:
                return False  # not this user's (or already revoked): touch nothing of it
            conn.execute(
                "UPDATE token_families SET revoked_at = ? "
                "WHERE api_token_id = ? AND user_id = ? AND revoked_at IS NULL",
                (now, token_id, user_id),
            )
        return True

    def start_family(self, conn: sqlite3.Connection, user_id: int, api_token_id: int | None) -> str:
        family_id = secrets.token_hex(16)
        conn.execute(
            "INSERT INTO token_families (id, user_id, api_token_id, created_at) "
            "VALUES (?, ?, ?, ?)",
            (family_id, user_id, api_token_id, utc_now()),
        )
        return family_id

    def add_pair(
        self,
        conn: sqlite3.Connection,
        family_id: str,
        access_hash: str,
        access_expires_at: float,
        refresh_hash: str,
        refresh_expires_at: float,
    ) -> None:
        conn.execute(
            "INSERT INTO access_tokens (family_id, token_hash, expires_at) VALUES (?, ?, ?)",
            (family_id, access_hash, access_expires_at),
        )
        conn.execute(
            "INSERT INTO refresh_tokens (family_id, token_hash, expires_at) VALUES (?, ?, ?)",
            (family_id, refresh_hash, refresh_expires_at),
        )

    def find_refresh(self, conn: sqlite3.Connection, token_hash: str) -> RefreshToken | None:
        row = conn.execute(
            "SELECT r.id, r.family_id, r.expires_at, r.used_at, f.user_id, f.revoked_at "
            "FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id "
            "WHERE r.token_hash = ?",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        return RefreshToken(
            id=row["id"],
            family_id=row["family_id"],
            user_id=row["user_id"],
            expires_at=row["expires_at"],
            used=row["used_at"] is not None,
            family_revoked=row["revoked_at"] is not None,
        )

    def mark_refresh_used(self, conn: sqlite3.Connection, token_id: int) -> bool:
        cur = conn.execute(
            "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL",
            (utc_now(), token_id),
        )
        return cur.rowcount == 1

    def revoke_family(self, conn: sqlite3.Connection, family_id: str) -> None:
        conn.execute(
            "UPDATE token_families SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (utc_now(), family_id),
        )

    def find_access(self, token_hash: str) -> AccessToken | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT a.expires_at, f.id AS family_id, f.user_id, f.api_token_id, f.revoked_at "
                "FROM access_tokens a JOIN token_families f ON f.id = a.family_id "
                "WHERE a.token_hash = ?",
                (token_hash,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return AccessToken(
            user_id=row["user_id"],
            expires_at=row["expires_at"],
            family_revoked=row["revoked_at"] is not None,
            family_id=row["family_id"],
            api_token_id=row["api_token_id"],
        )

    def find_family(self, family_id: str) -> Family | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT f.user_id, f.api_token_id, f.revoked_at, max(r.expires_at) AS ends_at "
                "FROM token_families f JOIN refresh_tokens r ON r.family_id = f.id "
                "WHERE f.id = ? GROUP BY f.id",
                (family_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return Family(
            user_id=row["user_id"],
            api_token_id=row["api_token_id"],
            revoked=row["revoked_at"] is not None,
            ends_at=row["ends_at"],
        )

    def api_token_live(self, token_id: int) -> bool:
        row = (
            self.db.connection()
            .execute("SELECT 1 FROM api_tokens WHERE id = ? AND revoked_at IS NULL", (token_id,))
            .fetchone()
        )
        return row is not None

    def prune(self, conn: sqlite3.Connection, keep_expired_seconds: float = 86_400) -> None:
        """Forget tokens that expired long ago (expired ones are kept a while to say so)."""
        cutoff = time.time() - keep_expired_seconds
        conn.execute("DELETE FROM access_tokens WHERE expires_at < ?", (cutoff,))
        conn.execute("DELETE FROM refresh_tokens WHERE expires_at < ?", (cutoff,))
