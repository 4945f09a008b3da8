import re

import pytest

from tests.platform.conftest import Client, error_of, unique

GENERATED = re.compile(r"[a-z]+-[a-z]+-\d\d")


def test_create_list_get_delete_network(alice: Client) -> None:
    name = unique()
    created = alice.post("/networks", json={"name": name})
    assert created.status_code == 201
    network = created.json()
    assert network["name"] == name
    assert network["domain"] == f"{name}.localhost"
    assert network["apps"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", network["created_at"])
    assert alice.get("/networks").json() == [network]

    details = alice.get(f"/networks/{name}").json()
    assert details == {**network, "apps": [], "vars": [], "secrets": []}

    assert alice.delete(f"/networks/{name}").status_code == 204
    assert alice.get("/networks").json() == []
    error_of(alice.get(f"/networks/{name}"), 404, "not_found")
    error_of(alice.delete(f"/networks/{name}"), 404, "not_found")


@pytest.mark.parametrize("body", [None, {}, {"name": None}])
def test_network_without_a_name_gets_a_readable_one(alice: Client, body: dict | None) -> None:
    created = alice.post("/networks", json=body) if body is not None else alice.post("/networks")
    assert created.status_code == 201, created.text
    assert GENERATED.fullmatch(created.json()["name"])


def test_networks_are_sorted_by_name(alice: Client) -> None:
    stem = unique()
    for suffix in ("b", "c", "a"):
        alice.post("/networks", json={"name": f"{stem}{suffix}"})
    assert [n["name"] for n in alice.get("/networks").json()] == [f"{stem}{s}" for s in "abc"]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("a" * 63, True),
        ("a" * 64, False),
        ("a", True),
        ("a-1", True),
        ("", False),
        ("1abc", False),
        ("abc-", False),
        ("-abc", False),
        ("Abc", False),
        ("ab_c", False),
        ("ab.c", False),
        ("abç", False),
    ],
)
def test_network_names(alice: Client, name: str, ok: bool) -> None:
    name = name if not ok or len(name) < 50 else unique()[:13] + name[13:]
    response = alice.post("/networks", json={"name": name})
    if ok:
        assert response.status_code == 201, response.text
    else:
        assert "name" in error_of(response, 422, "invalid_request")["message"]


def test_name_must_be_a_string(alice: Client) -> None:
    error_of(alice.post("/networks", json={"name": 5}), 422, "invalid_request")


def test_duplicate_network(alice: Client) -> None:
    name = unique()
    assert alice.post("/networks", json={"name": name}).status_code == 201
    error = error_of(alice.post("/networks", json={"name": name}), 409, "already_exists")
    assert name in error["message"]


def test_apps(alice: Client, shared_port: int) -> None:
    net = unique()
    alice.post("/networks", json={"name": net})
    created = alice.post(f"/networks/{net}/apps", json={"name": "api"})
    assert created.status_code == 201
    app = created.json()
    assert app == {
        "name": "api",
        "network": net,
        "hostname": f"api.{net}.localhost",
        "url": f"http://api.{net}.localhost:{shared_port}/",
        "state": "created",
        "created_at": app["created_at"],
    }
    generated = alice.post(f"/networks/{net}/apps").json()
    assert GENERATED.fullmatch(generated["name"])
    error_of(alice.post(f"/networks/{net}/apps", json={"name": "api"}), 409, "already_exists")
    error_of(alice.post(f"/networks/{net}/apps", json={"name": "Api"}), 422, "invalid_request")

    assert alice.get(f"/networks/{net}/apps/api").json() == {**app, "vars": [], "secrets": []}
    details = alice.get(f"/networks/{net}").json()
    assert [a["name"] for a in details["apps"]] == sorted(["api", generated["name"]])
    assert alice.get("/networks").json()[0]["apps"] == 2

    error = error_of(alice.get(f"/networks/{net}/apps/web"), 404, "not_found")
    assert error["message"] == f"app 'web' not found in network '{net}'"
    error_of(alice.post("/networks/nowhere/apps", json={"name": "x"}), 404, "not_found")
    error_of(alice.get("/networks/nowhere/apps/api"), 404, "not_found")

    assert alice.delete(f"/networks/{net}/apps/api").status_code == 204
    error_of(alice.get(f"/networks/{net}/apps/api"), 404, "not_found")
    error_of(alice.delete(f"/networks/{net}/apps/api"), 404, "not_found")


def test_same_app_name_in_two_networks(alice: Client) -> None:
    for net in (unique(), unique()):
        alice.post("/networks", json={"name": net})
        assert alice.post(f"/networks/{net}/apps", json={"name": "api"}).status_code == 201


def test_list_apps_across_networks_with_filters(alice: Client) -> None:
    first, second = sorted([unique(), unique()])
    for net in (second, first):
        alice.post("/networks", json={"name": net})
        for app in ("web", "api"):
            alice.post(f"/networks/{net}/apps", json={"name": app})
    everything = [(a["network"], a["name"]) for a in alice.get("/apps").json()]
    assert everything == [(first, "api"), (first, "web"), (second, "api"), (second, "web")]
    in_second = alice.get("/apps", params={"network": second}).json()
    assert [(a["network"], a["name"]) for a in in_second] == [(second, "api"), (second, "web")]
    named = alice.get("/apps", params={"name": "web"}).json()
    assert [(a["network"], a["name"]) for a in named] == [(first, "web"), (second, "web")]
    both = alice.get("/apps", params={"network": first, "name": "api"}).json()
    assert [(a["network"], a["name"]) for a in both] == [(first, "api")]
    assert alice.get("/apps", params={"network": "nowhere"}).json() == []


def test_deleting_a_network_with_apps(alice: Client) -> None:
    net = unique()
    alice.post("/networks", json={"name": net})
    alice.post(f"/networks/{net}/apps", json={"name": "api"})
    alice.patch(f"/networks/{net}/apps/api/vars", json={"vars": {"A": "1"}})
    error = error_of(alice.delete(f"/networks/{net}"), 409, "conflict")
    assert "apps" in error["message"]
    assert alice.delete(f"/networks/{net}", params={"force": "true"}).status_code == 204
    assert alice.get("/apps", params={"network": net}).json() == []
    # the name is free again, and nothing of the old network comes back
    alice.post("/networks", json={"name": net})
    assert alice.get(f"/networks/{net}").json()["apps"] == []
