import os

import httpx
import pytest

from tests.platform.conftest import Client, error_of, unique

MiB = 1024 * 1024


def test_health_needs_no_token(anon: Client) -> None:
    health = anon.get("/health").json()
    isolation = health.pop("isolation")
    assert isolation["mode"] == ("uid+namespaces" if os.geteuid() == 0 else "userns")
    assert isolation["detail"].startswith("bwrap ")
    assert health.pop("limits")["mode"].startswith("cgroup v")  # root here: cgroups writable
    assert health.pop("router")["mode"] == "haproxy"  # installed by scripts/install-system-deps
    assert health.pop("runtime")["name"] == "process"  # the default driver
    assert health == {
        "status": "ok",
        "version": "1.0.0",
        "platform": "maxlocal",
        "domain": "localhost",
        "max_upload_bytes": 1024**3,
    }


def test_openapi_lists_the_paths(anon: Client) -> None:
    document = anon.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in (
        "/api/v1/health",
        "/api/v1/auth/login",
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/tokens",
        "/api/v1/tokens/{token_id}",
        "/api/v1/networks",
        "/api/v1/networks/{network}",
        "/api/v1/apps",
        "/api/v1/networks/{network}/apps",
        "/api/v1/networks/{network}/apps/{app}",
        "/api/v1/networks/{network}/vars",
        "/api/v1/networks/{network}/vars/{key}",
        "/api/v1/networks/{network}/secrets",
        "/api/v1/networks/{network}/secrets/{key}",
        "/api/v1/networks/{network}/apps/{app}/vars",
        "/api/v1/networks/{network}/apps/{app}/vars/{key}",
        "/api/v1/networks/{network}/apps/{app}/secrets",
        "/api/v1/networks/{network}/apps/{app}/secrets/{key}",
    ):
        assert path in paths, path
    assert set(paths["/api/v1/networks/{network}/vars"]) == {"get", "patch"}
    schemas = document["components"]["schemas"]
    assert schemas["LoginRequest"]["additionalProperties"] is False
    assert "HTTPValidationError" not in schemas
    error = paths["/api/v1/networks"]["post"]["responses"]["default"]
    assert error["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }


@pytest.mark.parametrize("path", ["/nope", "/networks/x/y/z/w", "/../../etc/passwd"])
def test_unknown_routes(anon: Client, path: str) -> None:
    error_of(anon.get(path), 404, "not_found")


def test_unknown_route_outside_the_api(anon: Client) -> None:
    error_of(httpx.get(str(anon.base_url).removesuffix("/api/v1/") + "/"), 404, "not_found")


def test_wrong_method(anon: Client) -> None:
    response = anon.put("/health")
    error_of(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


def test_unknown_field(alice: Client) -> None:
    error = error_of(alice.post("/networks", json={"nmae": "x"}), 422, "invalid_request")
    assert "nmae" in error["message"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"shop"', b"42"])
def test_bodies_that_are_not_json_objects(alice: Client, body: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    error_of(alice.post("/networks", content=body, headers=headers), 400, "invalid_request")


def test_body_that_is_not_json(alice: Client) -> None:
    response = alice.post("/networks", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert "application/json" in error_of(response, 400, "invalid_request")["message"]


def test_body_over_the_limit(alice: Client) -> None:
    net = unique()
    alice.post("/networks", json={"name": net})
    big = {"vars": {f"K{i}": "x" * 60_000 for i in range(18)}}
    error_of(alice.patch(f"/networks/{net}/vars", json=big), 413, "payload_too_large")
    assert alice.get(f"/networks/{net}/vars").json() == []


def test_streamed_body_over_the_limit(alice: Client) -> None:
    def chunks():
        yield b'{"vars": {"A": "'
        for _ in range(20):
            yield b"x" * 64 * 1024
        yield b'"}}'

    net = unique()
    alice.post("/networks", json={"name": net})
    response = alice.patch(f"/networks/{net}/vars", content=chunks())
    error_of(response, 413, "payload_too_large")


def test_body_just_under_the_limit_is_read(alice: Client) -> None:
    net = unique()
    alice.post("/networks", json={"name": net})
    body = {"vars": {f"K{i}": "x" * 60_000 for i in range(17)}}
    assert alice.patch(f"/networks/{net}/vars", json=body).status_code == 200
    assert int(httpx.Request("PATCH", "http://x", json=body).headers["content-length"]) < MiB


def test_concurrent_requests(new_user) -> None:
    from concurrent.futures import ThreadPoolExecutor

    clients = [new_user() for _ in range(4)]
    names = [unique() for _ in range(40)]

    def create(i: int) -> int:
        return clients[i % 4].post("/networks", json={"name": names[i]}).status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(create, range(40))) == {201}
    assert sum(len(c.get("/networks").json()) for c in clients) == 40

    net = unique()
    clients[0].post("/networks", json={"name": net})

    def race(_: int) -> int:
        return clients[0].post(f"/networks/{net}/apps", json={"name": "same"}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(race, range(8))) == [201] + [409] * 7
