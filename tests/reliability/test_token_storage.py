"""Tokens at rest and in use: only hashes in the database; expired, revoked and replayed refused."""

from __future__ import annotations

import hashlib
import sqlite3
import time

import httpx

from tests.reliability.figures import Figures
from tests.support.platform import PlatformFactory


def every_text_in(db_path: str) -> str:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            str(value)
            for table in tables
            for row in conn.execute(f"SELECT * FROM {table}")
            for value in row
        )
    finally:
        conn.close()


def test_tokens_are_stored_hashed_and_refused_once_expired_revoked_or_replayed(
    platform_factory: PlatformFactory, figures: Figures
) -> None:
    platform = platform_factory(access_ttl=2)
    api = f"{platform.url}/api/v1"
    creds = platform.bootstrap()
    login = httpx.post(
        f"{api}/auth/login", json={"email": creds["email"], "password": creds["password"]}
    )
    assert login.status_code == 200
    access, refresh = login.json()["access_token"], login.json()["refresh_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    made = httpx.post(f"{api}/tokens", json={"name": "ci"}, headers=bearer).json()
    api_token = made["token"]

    stored = every_text_in(str(platform.data_dir / "maxlocal.db"))
    for token in (access, refresh, api_token):
        figures.add("token_storage_checks")
        assert token not in stored
        assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert creds["password"] not in stored

    def status(token: str) -> int:
        return httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {token}"}).status_code

    assert status(api_token) == 200
    assert httpx.delete(f"{api}/tokens/{made['id']}", headers=bearer).status_code == 204
    assert status(api_token) == 401

    first = httpx.post(f"{api}/auth/refresh", json={"refresh_token": refresh})
    assert first.status_code == 200
    new_access, new_refresh = first.json()["access_token"], first.json()["refresh_token"]
    assert new_refresh != refresh and status(new_access) == 200
    replay = httpx.post(f"{api}/auth/refresh", json={"refresh_token": refresh})
    assert replay.status_code == 401
    assert status(new_access) == 401, "a replayed refresh token must revoke the whole family"
    assert httpx.post(f"{api}/auth/refresh", json={"refresh_token": new_refresh}).status_code == 401

    again = httpx.post(
        f"{api}/auth/login", json={"email": creds["email"], "password": creds["password"]}
    )
    short_lived = again.json()["access_token"]
    assert status(short_lived) == 200
    time.sleep(2.2)
    expired = httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {short_lived}"})
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "token_expired"
    for bogus in ("mxa_", "mxt_" + "A" * 43, "Bearer", "mxr_" + refresh[4:], "\u00e9" * 10):
        figures.add("token_storage_checks")
        response = httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {bogus}".encode()})
        assert response.status_code == 401, (bogus, response.text)
