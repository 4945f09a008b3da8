from tests.platform.conftest import Client, error_of, unique


def test_other_users_resources_are_invisible(alice: Client, bob: Client) -> None:
    net = unique()
    alice.post("/networks", json={"name": net})
    alice.post(f"/networks/{net}/apps", json={"name": "api"})
    alice.patch(f"/networks/{net}/vars", json={"vars": {"A": "1"}})
    alice.patch(f"/networks/{net}/secrets", json={"secrets": {"S": "1"}})
    alice.patch(f"/networks/{net}/apps/api/vars", json={"vars": {"B": "1"}})
    alice.patch(f"/networks/{net}/apps/api/secrets", json={"secrets": {"T": "1"}})

    assert bob.get("/networks").json() == []
    assert bob.get("/apps").json() == []
    assert bob.get("/apps", params={"network": net}).json() == []
    missing_network = error_of(bob.get("/networks/nowhere"), 404, "not_found")
    assert error_of(bob.get(f"/networks/{net}"), 404, "not_found") == {
        **missing_network,
        "message": missing_network["message"].replace("nowhere", net),
    }
    app = f"/networks/{net}/apps/api"
    refused = [
        bob.delete(f"/networks/{net}"),
        bob.delete(f"/networks/{net}", params={"force": "true"}),
        bob.post(f"/networks/{net}/apps", json={"name": "evil"}),
        bob.get(app),
        bob.delete(app),
    ]
    for scope in (f"/networks/{net}", app):
        refused += [
            bob.get(f"{scope}/vars"),
            bob.patch(f"{scope}/vars", json={"vars": {"A": "2"}}),
            bob.delete(f"{scope}/vars/A"),
            bob.get(f"{scope}/secrets"),
            bob.patch(f"{scope}/secrets", json={"secrets": {"S": "2"}}),
            bob.delete(f"{scope}/secrets/S"),
        ]
    for response in refused:
        error_of(response, 404, "not_found")
        assert "alice" not in response.text

    # nothing changed for alice
    details = alice.get(app).json()
    assert {v["key"]: v["value"] for v in details["vars"]} == {"A": "1", "B": "1"}
    assert [s["key"] for s in details["secrets"]] == ["S", "T"]
    assert [a["name"] for a in alice.get(f"/networks/{net}").json()["apps"]] == ["api"]


def test_network_names_are_unique_across_users(alice: Client, bob: Client) -> None:
    net = unique()
    alice.post("/networks", json={"name": net})
    error = error_of(bob.post("/networks", json={"name": net}), 409, "already_exists")
    assert "@" not in error["message"] + error["hint"]
    assert bob.get("/networks").json() == []


def test_app_names_are_per_network(alice: Client, bob: Client) -> None:
    mine, theirs = unique(), unique()
    alice.post("/networks", json={"name": mine})
    bob.post("/networks", json={"name": theirs})
    assert alice.post(f"/networks/{mine}/apps", json={"name": "api"}).status_code == 201
    assert bob.post(f"/networks/{theirs}/apps", json={"name": "api"}).status_code == 201
    assert [a["network"] for a in bob.get("/apps", params={"name": "api"}).json()] == [theirs]
