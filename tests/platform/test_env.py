import sqlite3

import pytest

from tests.platform.conftest import Client, error_of, unique
from tests.support.platform import Platform


@pytest.fixture
def net(alice: Client) -> str:
    name = unique()
    alice.post("/networks", json={"name": name})
    alice.post(f"/networks/{name}/apps", json={"name": "api"})
    return name


def keys_and_sources(entries: list[dict]) -> list[tuple[str, str, bool]]:
    return [(e["key"], e["source"], e["overrides"]) for e in entries]


def test_network_vars(alice: Client, net: str) -> None:
    r = alice.patch(f"/networks/{net}/vars", json={"vars": {"B": "2", "A": "1", "EMPTY": ""}})
    assert r.status_code == 200
    assert [(v["key"], v["value"]) for v in r.json()] == [("A", "1"), ("B", "2"), ("EMPTY", "")]
    assert all(v["source"] == "network" and v["overrides"] is False for v in r.json())
    r = alice.patch(f"/networks/{net}/vars", json={"vars": {"A": "one"}})
    assert [(v["key"], v["value"]) for v in r.json()] == [("A", "one"), ("B", "2"), ("EMPTY", "")]
    assert alice.get(f"/networks/{net}/vars").json() == r.json()
    assert alice.get(f"/networks/{net}").json()["vars"] == r.json()
    assert alice.delete(f"/networks/{net}/vars/B").status_code == 204
    assert [v["key"] for v in alice.get(f"/networks/{net}/vars").json()] == ["A", "EMPTY"]
    error_of(alice.delete(f"/networks/{net}/vars/B"), 404, "not_found")


def test_keys_are_case_sensitive(alice: Client, net: str) -> None:
    r = alice.patch(f"/networks/{net}/vars", json={"vars": {"key": "1", "KEY": "2"}})
    assert [(v["key"], v["value"]) for v in r.json()] == [("KEY", "2"), ("key", "1")]


def test_app_inherits_and_overrides(alice: Client, net: str) -> None:
    alice.patch(f"/networks/{net}/vars", json={"vars": {"LOG": "info", "REGION": "eu"}})
    alice.patch(f"/networks/{net}/secrets", json={"secrets": {"DB": "net-secret"}})
    app = f"/networks/{net}/apps/api"
    assert keys_and_sources(alice.get(f"{app}/vars").json()) == [
        ("LOG", "network", False),
        ("REGION", "network", False),
    ]
    r = alice.patch(f"{app}/vars", json={"vars": {"LOG": "debug", "ONLY_APP": "x"}})
    assert keys_and_sources(r.json()) == [
        ("LOG", "app", True),
        ("ONLY_APP", "app", False),
        ("REGION", "network", False),
    ]
    assert {v["key"]: v["value"] for v in r.json()}["LOG"] == "debug"
    # the network's own list is unchanged
    network_vars = alice.get(f"/networks/{net}/vars").json()
    assert {v["key"]: v["value"] for v in network_vars} == {"LOG": "info", "REGION": "eu"}

    secrets = alice.patch(f"{app}/secrets", json={"secrets": {"DB": "app-secret", "TOKEN": "t"}})
    assert keys_and_sources(secrets.json()) == [("DB", "app", True), ("TOKEN", "app", False)]
    details = alice.get(app).json()
    assert keys_and_sources(details["vars"]) == keys_and_sources(r.json())
    assert keys_and_sources(details["secrets"]) == keys_and_sources(secrets.json())

    # deleting the app value brings the network value back; the network value cannot be
    # deleted through the app
    assert alice.delete(f"{app}/vars/LOG").status_code == 204
    log = {v["key"]: v for v in alice.get(f"{app}/vars").json()}["LOG"]
    assert (log["value"], log["source"], log["overrides"]) == ("info", "network", False)
    error_of(alice.delete(f"{app}/vars/REGION"), 404, "not_found")
    assert alice.delete(f"{app}/secrets/DB").status_code == 204
    assert keys_and_sources(alice.get(f"{app}/secrets").json()) == [
        ("DB", "network", False),
        ("TOKEN", "app", False),
    ]


def test_an_app_var_may_hide_a_network_secret(alice: Client, net: str) -> None:
    alice.patch(f"/networks/{net}/secrets", json={"secrets": {"MODE": "s"}})
    r = alice.patch(f"/networks/{net}/apps/api/vars", json={"vars": {"MODE": "plain"}})
    assert keys_and_sources(r.json()) == [("MODE", "app", True)]
    assert alice.get(f"/networks/{net}/apps/api/secrets").json() == []


def test_secrets_never_show_their_values(alice: Client, net: str) -> None:
    value = "s3cr3t-value-8c1f2e"
    scope = f"/networks/{net}"
    responses = [alice.patch(f"{scope}/secrets", json={"secrets": {"DB_PASSWORD": value}})]
    responses.append(alice.patch(f"{scope}/apps/api/secrets", json={"secrets": {"APP_PW": value}}))
    for path in (
        f"{scope}/secrets",
        scope,
        f"{scope}/apps/api/secrets",
        f"{scope}/apps/api",
        f"{scope}/vars",
        "/networks",
        "/apps",
    ):
        responses.append(alice.get(path))
    for response in responses:
        assert response.status_code == 200
        assert value not in response.text
    secret = alice.get(f"{scope}/secrets").json()[0]
    assert set(secret) == {"key", "digest", "source", "overrides", "updated_at"}
    assert len(secret["digest"]) == 12 and int(secret["digest"], 16) >= 0


def test_only_the_owner_reveals_secret_values_and_each_reveal_is_audited(
    alice: Client, bob: Client, net: str
) -> None:
    """``POST .../secrets/reveal`` (for ``rig run --with-secrets``): the effective values,
    an app's over its network's; all or the keys asked for; audited by key, never by value."""
    scope = f"/networks/{net}"
    alice.patch(f"{scope}/secrets", json={"secrets": {"DB_PASSWORD": "net-pw", "SHARED": "n"}})
    alice.patch(f"{scope}/apps/api/secrets", json={"secrets": {"SHARED": "app-value"}})
    alice.patch(f"{scope}/apps/api/vars", json={"vars": {"PLAIN": "not a secret"}})
    revealed = alice.post(f"{scope}/apps/api/secrets/reveal", json={})
    assert revealed.status_code == 200
    assert revealed.json() == {"secrets": {"DB_PASSWORD": "net-pw", "SHARED": "app-value"}}
    one = alice.post(f"{scope}/apps/api/secrets/reveal", json={"keys": ["SHARED"]}).json()
    assert one == {"secrets": {"SHARED": "app-value"}}
    network = alice.post(f"{scope}/secrets/reveal").json()
    assert network == {"secrets": {"DB_PASSWORD": "net-pw", "SHARED": "n"}}
    error_of(
        alice.post(f"{scope}/apps/api/secrets/reveal", json={"keys": ["PLAIN"]}), 404, "not_found"
    )
    error_of(bob.post(f"{scope}/apps/api/secrets/reveal", json={}), 404, "not_found")
    error_of(bob.post(f"{scope}/secrets/reveal", json={}), 404, "not_found")
    trail = [r for r in alice.get("/audit").json() if r["kind"] == "reveal"]
    assert [(r["app"], r["command"]) for r in trail] == [
        ("api", "reveal secrets DB_PASSWORD, SHARED"),
        ("api", "reveal secrets SHARED"),
        (None, "reveal secrets DB_PASSWORD, SHARED"),
    ]
    assert all(r["network"] == net and r["exit_code"] == 0 for r in trail)
    assert not any(value in str(trail) for value in ("net-pw", "app-value"))


def test_digest_follows_the_value(alice: Client, net: str) -> None:
    scope = f"/networks/{net}/secrets"

    def digest(value: str) -> str:
        return alice.patch(scope, json={"secrets": {"S": value}}).json()[0]["digest"]

    first = digest("one")
    assert digest("one") == first
    assert digest("two") != first
    assert digest("") not in (first, digest("two"))


def test_secrets_are_encrypted_at_rest(alice: Client, net: str, shared: Platform) -> None:
    value = "plaintext-canary-5d41402abc4b2a76"
    alice.patch(f"/networks/{net}/secrets", json={"secrets": {"CANARY": value}})
    alice.patch(f"/networks/{net}/apps/api/secrets", json={"secrets": {"CANARY2": value}})
    with sqlite3.connect(shared.data_dir / "maxlocal.db") as db:
        db.execute("PRAGMA wal_checkpoint(FULL)")
    for path in shared.data_dir.iterdir():
        if path.is_file():
            assert value.encode() not in path.read_bytes(), path


def test_a_key_is_a_var_or_a_secret_not_both(alice: Client, net: str) -> None:
    for scope in (f"/networks/{net}", f"/networks/{net}/apps/api"):
        alice.patch(f"{scope}/vars", json={"vars": {"SHARED": "v"}})
        error = error_of(
            alice.patch(f"{scope}/secrets", json={"secrets": {"OK": "x", "SHARED": "s"}}),
            409,
            "conflict",
        )
        assert "SHARED" in error["message"] and error["hint"]
        # nothing of the refused request was written
        assert "OK" not in {s["key"] for s in alice.get(f"{scope}/secrets").json()}
        alice.patch(f"{scope}/secrets", json={"secrets": {"HIDDEN": "s"}})
        error_of(alice.patch(f"{scope}/vars", json={"vars": {"HIDDEN": "v"}}), 409, "conflict")
        error_of(alice.delete(f"{scope}/vars/HIDDEN"), 404, "not_found")
        error_of(alice.delete(f"{scope}/secrets/SHARED"), 404, "not_found")


@pytest.mark.parametrize(
    "entries",
    [
        {"PORT": "1"},
        {"1ABC": "x"},
        {"A-B": "x"},
        {"": "x"},
        {"A" * 256: "x"},
        {"OK": "x" * (64 * 1024 + 1)},
        {"OK": 1},
        {"OK": None},
    ],
)
def test_invalid_entries_are_refused_whole(alice: Client, net: str, entries: dict) -> None:
    for kind in ("vars", "secrets"):
        body = {kind: {"GOOD": "1", **entries}}
        error = error_of(alice.patch(f"/networks/{net}/{kind}", json=body), 422, "invalid_request")
        assert kind in error["message"]
        assert alice.get(f"/networks/{net}/{kind}").json() == []


def test_large_and_unicode_values(alice: Client, net: str) -> None:
    big = "x" * (64 * 1024)
    r = alice.patch(f"/networks/{net}/vars", json={"vars": {"BIG": big, "UNI": "héllo ☃"}})
    assert {v["key"]: v["value"] for v in r.json()} == {"BIG": big, "UNI": "héllo ☃"}
    assert alice.patch(f"/networks/{net}/vars", json={"vars": {}}).status_code == 200


def test_env_bodies_are_checked(alice: Client, net: str) -> None:
    error_of(alice.patch(f"/networks/{net}/vars", json={}), 422, "invalid_request")
    error_of(alice.patch(f"/networks/{net}/vars", json={"secrets": {}}), 422, "invalid_request")
    error_of(alice.patch(f"/networks/{net}/vars", json={"vars": []}), 422, "invalid_request")


def test_env_of_unknown_scopes(alice: Client, net: str) -> None:
    for path in ("/networks/nowhere", f"/networks/{net}/apps/nowhere"):
        error_of(alice.get(f"{path}/vars"), 404, "not_found")
        error_of(alice.patch(f"{path}/secrets", json={"secrets": {"A": "1"}}), 404, "not_found")
        error_of(alice.delete(f"{path}/vars/A"), 404, "not_found")


def test_a_bad_request_is_refused_before_its_scope_is_looked_up(alice: Client, net: str) -> None:
    """As on every route: a body or query that does not validate is a 422 whether or not the
    network or app exists (the scope is looked up only once the request is valid)."""
    for path in ("/networks/nowhere", f"/networks/{net}/apps/nowhere"):
        error_of(alice.patch(f"{path}/vars", json={"vars": []}), 422, "invalid_request")
        bad_key = {"secrets": {"not a key": "1"}}
        error_of(alice.patch(f"{path}/secrets", json=bad_key), 422, "invalid_request")
        error_of(alice.delete(f"{path}/vars/A?restart=maybe"), 422, "invalid_request")
        error_of(alice.post(f"{path}/secrets/reveal", json={"keys": 3}), 422, "invalid_request")
