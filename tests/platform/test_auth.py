import time

import httpx
import pytest

from tests.platform.conftest import Client, api_client, error_of
from tests.support.platform import Platform, PlatformFactory


def login(anon: Client, shared: Platform) -> dict:
    r = anon.post("/auth/login", json=shared.bootstrap())
    assert r.status_code == 200, r.text
    return r.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_returns_a_session(anon: Client, shared: Platform) -> None:
    session = login(anon, shared)
    assert session["access_token"].startswith("mxa_")
    assert session["refresh_token"].startswith("mxr_")
    assert session["token_type"] == "bearer"
    assert session["expires_in"] == 900
    assert session["user"] == {"id": 1, "email": "admin@max.local"}
    me = anon.get("/me", headers=bearer(session["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == "admin@max.local"
    assert me.json()["created_at"].endswith("Z")


def test_wrong_password_and_unknown_email_look_the_same(anon: Client, shared: Platform) -> None:
    wrong = anon.post("/auth/login", json={"email": "admin@max.local", "password": "nope"})
    unknown = anon.post("/auth/login", json={"email": "who@max.local", "password": "nope"})
    assert error_of(wrong, 401, "unauthorized") == error_of(unknown, 401, "unauthorized")


def test_login_validates_its_body(anon: Client) -> None:
    error = error_of(anon.post("/auth/login", json={"email": "a@b.c"}), 422, "invalid_request")
    assert "password" in error["message"]
    r = anon.post("/auth/login", json={"email": "a@b.c", "password": "x", "otp": "1"})
    assert "otp" in error_of(r, 422, "invalid_request")["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("mxa_unknown"),
        bearer("mxt_unknown"),
        bearer("garbage"),
        {"Authorization": "Basic eDp5"},
    ],
)
def test_protected_endpoints_need_a_valid_token(anon: Client, headers: dict[str, str]) -> None:
    response = anon.get("/networks", headers=headers)
    error_of(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_refresh_token_is_not_a_bearer_token(anon: Client, shared: Platform) -> None:
    session = login(anon, shared)
    error_of(anon.get("/me", headers=bearer(session["refresh_token"])), 401, "unauthorized")


def test_refresh_rotates_and_reuse_revokes_the_family(anon: Client, shared: Platform) -> None:
    first = login(anon, shared)
    second = anon.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    third = anon.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}).json()
    assert anon.get("/me", headers=bearer(third["access_token"])).status_code == 200

    replay = anon.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    error_of(replay, 401, "unauthorized")
    # the whole family is gone: the newest refresh token and the access tokens too
    r = anon.post("/auth/refresh", json={"refresh_token": third["refresh_token"]})
    error_of(r, 401, "unauthorized")
    error_of(anon.get("/me", headers=bearer(third["access_token"])), 401, "unauthorized")
    # other sessions are untouched
    other = login(anon, shared)
    assert anon.get("/me", headers=bearer(other["access_token"])).status_code == 200


def test_unknown_refresh_token(anon: Client) -> None:
    error_of(anon.post("/auth/refresh", json={"refresh_token": "mxr_nope"}), 401, "unauthorized")


def test_logout_revokes_the_family_and_is_idempotent(anon: Client, shared: Platform) -> None:
    session = login(anon, shared)
    body = {"refresh_token": session["refresh_token"]}
    r = anon.post("/auth/logout", json=body)
    assert r.status_code == 204 and r.content == b""
    error_of(anon.get("/me", headers=bearer(session["access_token"])), 401, "unauthorized")
    error_of(anon.post("/auth/refresh", json=body), 401, "unauthorized")
    assert anon.post("/auth/logout", json=body).status_code == 204
    assert anon.post("/auth/logout", json={"refresh_token": "mxr_unknown"}).status_code == 204


def test_api_tokens(anon: Client, shared: Platform) -> None:
    session = login(anon, shared)
    with api_client(shared, session["access_token"]) as admin:
        created = admin.post("/tokens", json={"name": "ci"})
        assert created.status_code == 201
        token = created.json()
        assert token["token"].startswith("mxt_")
        assert token["name"] == "ci"
        listed = {t["id"]: t for t in admin.get("/tokens").json()}
        assert set(listed[token["id"]]) == {"id", "name", "created_at", "last_used_at"}
        assert listed[token["id"]]["last_used_at"] is None
        assert token["token"] not in admin.get("/tokens").text

        # as a bearer token, and exchanged for a session
        assert anon.get("/me", headers=bearer(token["token"])).json()["email"] == "admin@max.local"
        exchanged = anon.post("/auth/token", json={"token": token["token"]})
        assert exchanged.status_code == 200
        sub = exchanged.json()
        assert sub["user"]["email"] == "admin@max.local"
        assert anon.get("/me", headers=bearer(sub["access_token"])).status_code == 200
        used = {t["id"]: t for t in admin.get("/tokens").json()}[token["id"]]
        assert used["last_used_at"] is not None

        # revoking it ends its sessions too
        assert admin.delete(f"/tokens/{token['id']}").status_code == 204
        assert token["id"] not in {t["id"] for t in admin.get("/tokens").json()}
        error_of(anon.get("/me", headers=bearer(token["token"])), 401, "unauthorized")
        error_of(anon.get("/me", headers=bearer(sub["access_token"])), 401, "unauthorized")
        error_of(anon.post("/auth/token", json={"token": token["token"]}), 401, "unauthorized")
        error_of(admin.delete(f"/tokens/{token['id']}"), 404, "not_found")
        error_of(admin.post("/tokens", json={"name": ""}), 422, "invalid_request")


def test_tokens_are_private(alice: Client, bob: Client) -> None:
    token = alice.post("/tokens", json={"name": "mine"}).json()
    assert token["id"] not in {t["id"] for t in bob.get("/tokens").json()}
    error_of(bob.delete(f"/tokens/{token['id']}"), 404, "not_found")
    assert alice.delete(f"/tokens/{token['id']}").status_code == 204


def test_expired_access_token(platform_factory: PlatformFactory) -> None:
    platform = platform_factory(access_ttl=1)
    with api_client(platform) as anon:
        session = anon.post("/auth/login", json=platform.bootstrap()).json()
        assert session["expires_in"] == 1
        assert anon.get("/me", headers=bearer(session["access_token"])).status_code == 200
        time.sleep(1.2)
        expired = anon.get("/me", headers=bearer(session["access_token"]))
        error_of(expired, 401, "token_expired")
        fresh = anon.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert anon.get("/me", headers=bearer(fresh.json()["access_token"])).status_code == 200


def test_expired_refresh_token(platform_factory: PlatformFactory) -> None:
    platform = platform_factory(refresh_ttl=1)
    session = httpx.post(f"{platform.url}/api/v1/auth/login", json=platform.bootstrap()).json()
    time.sleep(1.2)
    r = httpx.post(
        f"{platform.url}/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    error_of(r, 401, "unauthorized")
