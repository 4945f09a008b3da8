"""Issue 15, finding 1: revoking a token id that is not yours must touch nothing.

Before the fix, ``DELETE /api/v1/tokens/{id}`` with another user's id answered 404 but still
revoked every session obtained with that token (the token-families update was not scoped to
the owner), and ids are sequential: anyone could log everybody out.
"""

from __future__ import annotations

import httpx

from tests.support.cli import unique_email
from tests.support.platform import Platform


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_revoking_another_users_token_id_ends_none_of_their_sessions(
    shared_platform: Platform,
) -> None:
    api = f"{shared_platform.url}/api/v1"
    alice = shared_platform.add_user(unique_email("alice"))["token"]
    mallory = shared_platform.add_user(unique_email("mallory"))["token"]
    with httpx.Client(base_url=api, timeout=30) as http:
        (alices_token,) = http.get("/tokens", headers=bearer(alice)).json()
        session = http.post("/auth/token", json={"token": alice}).json()
        assert http.get("/me", headers=bearer(session["access_token"])).status_code == 200

        refused = http.delete(f"/tokens/{alices_token['id']}", headers=bearer(mallory))
        assert refused.status_code == 404

        me = http.get("/me", headers=bearer(session["access_token"]))
        assert me.status_code == 200, f"alice's session was ended by mallory: {me.text}"
        renewed = http.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert renewed.status_code == 200, renewed.text
        assert http.get("/me", headers=bearer(alice)).status_code == 200
