"""A second user's token against every endpoint of the OpenAPI document, aimed at the first
user's resources: never a 2xx on them, never a byte of their data, nothing of theirs changed."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.deploy.conftest import Api, new_api, web_app
from tests.reliability.figures import Figures
from tests.support.platform import Platform, PlatformFactory

NETWORK, APP = "owner-net", "owner-app"
VAR_VALUE = "var-value-of-the-owner-7f3a"
SECRET_VALUE = "secret-value-of-the-owner-9c1e"
MESSAGE = "release-message-of-the-owner-2b8d"
TOKEN_NAME = "token-name-of-the-owner-5d0c"
NOT_BEARER = ("/api/v1/health", "/api/v1/auth/")
METHOD_ORDER = {"get": 0, "post": 1, "patch": 2, "put": 3, "delete": 4}


class Owner:
    def __init__(self, api: Api, email: str) -> None:
        self.api, self.email = api, email
        self.token_id = 0
        self.checksum = ""

    def snapshot(self) -> dict[str, Any]:
        http = self.api.http
        base = f"/networks/{NETWORK}/apps/{APP}"
        return {
            path: http.get(path).json()
            for path in (
                "/networks",
                f"/networks/{NETWORK}",
                f"{base}/vars",
                f"{base}/secrets",
                f"{base}/releases",
                "/tokens",
            )
        }


@pytest.fixture(scope="module")
def platform_and_owner(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Platform, Owner]]:
    factory = PlatformFactory(tmp_path_factory.mktemp("cross-user"))
    platform = factory(health_timeout=20)
    user = platform.add_user("owner-7e2f@example.com")
    owner = Owner(Api(platform, user["token"]), user["email"])
    http = owner.api.http
    assert http.post("/networks", json={"name": NETWORK}).status_code == 201
    assert http.post(f"/networks/{NETWORK}/apps", json={"name": APP}).status_code == 201
    base = f"/networks/{NETWORK}/apps/{APP}"
    assert http.patch(f"{base}/vars", json={"vars": {"OWNER_VAR": VAR_VALUE}}).status_code == 200
    body = {"secrets": {"OWNER_SECRET": SECRET_VALUE}}
    assert http.patch(f"{base}/secrets", json=body).status_code == 200
    assert http.patch(f"/networks/{NETWORK}/vars", json={"vars": {"NET_VAR": VAR_VALUE}}).is_success
    release = owner.api.deploy(NETWORK, APP, web_app("owner"), message=MESSAGE)
    assert release["status"] == "active", release
    owner.checksum = release["checksum"]
    owner.token_id = http.post("/tokens", json={"name": TOKEN_NAME}).json()["id"]
    yield platform, owner
    owner.api.http.close()
    factory.stop_all()


def operations(platform: Platform) -> list[tuple[str, str, dict[str, Any]]]:
    doc = httpx.get(f"{platform.url}/api/v1/openapi.json", timeout=10).json()
    ops = [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHOD_ORDER and not path.startswith(NOT_BEARER)
    ]
    return sorted(ops, key=lambda o: (METHOD_ORDER[o[0]], o[1]))


def fill(path: str, owner: Owner, key: str) -> str:
    values = {"network": NETWORK, "app": APP, "number": "1", "token_id": str(owner.token_id)}
    values["key"] = key
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)


def request_for(method: str, path: str) -> dict[str, Any]:
    """A plausible request: a body that would pass validation, the owner's names in queries."""
    if path.endswith("/releases") and method == "post":
        data = web_app("intruder")
        headers = {"Content-Type": "application/gzip"}
        headers["X-Checksum-Sha256"] = hashlib.sha256(data).hexdigest()
        return {"content": data, "headers": headers}
    params = {"network": NETWORK, "name": APP} if path.endswith("/apps") else {}
    bodies: list[tuple[str, Any]] = [
        ("/vars", {"vars": {"OWNER_VAR": "changed"}}),
        ("/secrets", {"secrets": {"OWNER_SECRET": "changed"}}),
        ("/apps", {"name": APP}),
        ("/networks", {"name": NETWORK}),
        ("/rollback", {"to": 1}),
        ("/tokens", {"name": "intruder"}),
    ]
    body = next((b for suffix, b in bodies if path.endswith(suffix)), {})
    return (
        {"json": body, "params": params}
        if method in ("post", "patch", "put")
        else {"params": params}
    )


def leaked(response: httpx.Response, owner: Owner) -> list[str]:
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    markers = [owner.email, VAR_VALUE, SECRET_VALUE, MESSAGE, TOKEN_NAME, owner.checksum]
    return [m for m in markers if m and m in text]


def test_a_second_user_gets_nothing_of_the_first_users_resources(
    platform_and_owner: tuple[Platform, Owner], figures: Figures
) -> None:
    platform, owner = platform_and_owner
    before = owner.snapshot()
    intruder = new_api(platform)
    problems: list[str] = []
    for method, template, _ in operations(platform):
        for key in ("OWNER_VAR", "OWNER_SECRET", "NET_VAR"):
            if "{key}" not in template and key != "OWNER_VAR":
                continue
            path = fill(template, owner, key).removeprefix("/api/v1")
            response = intruder.http.request(method.upper(), path, **request_for(method, path))
            figures.add("cross_user_probes")
            found = leaked(response, owner)
            if found:
                figures.add("cross_user_leaks")
                problems.append(f"{method.upper()} {path}: {response.status_code} leaks {found}")
            owned = "{" in template
            if owned and response.status_code not in (403, 404):
                figures.add("cross_user_leaks")
                problems.append(f"{method.upper()} {path}: {response.status_code} {response.text}")
            if template.endswith("/networks") and method == "post" and response.status_code != 409:
                problems.append(
                    f"creating the owner's network name answered {response.status_code}"
                )
            assert response.status_code < 500, f"{method} {path}: {response.text}"
    intruder.http.close()
    assert not problems, "\n".join(problems)
    assert owner.snapshot() == before
    figures.set("cross_user_endpoints", len(operations(platform)))


def test_the_owner_is_untouched_and_still_served(
    platform_and_owner: tuple[Platform, Owner],
) -> None:
    _, owner = platform_and_owner
    status = owner.api.status(NETWORK, APP)
    assert status["state"] == "running" and status["release"] == 1, status
    secrets = owner.api.http.get(f"/networks/{NETWORK}/apps/{APP}/secrets").json()
    assert [s["key"] for s in secrets] == ["OWNER_SECRET"]


OWNER_TOPICS = [
    f"logs:app:{NETWORK}/{APP}",
    f"logs:build:{NETWORK}/{APP}",
    f"logs:network:{NETWORK}",
    f"exec:{NETWORK}/{APP}",
    f"exec:network:{NETWORK}",
    f"logs:app:{NETWORK.upper()}/{APP}",
    f"logs:app:{NETWORK}/{APP}/",
    f"logs:app:{NETWORK}//{APP}",
]


def socket_url(platform: Platform, token: str) -> str:
    return f"ws://127.0.0.1:{platform.port}/socket/websocket?vsn=2.0.0&token={token}"


def join(ws: Any, topic: str, ref: int) -> dict[str, Any]:
    """Join ``topic``; the reply's payload. Messages of other topics are skipped."""
    ws.send(
        json.dumps([str(ref), str(ref), topic, "phx_join", {"after": 0, "cols": 80, "rows": 24}])
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, reply_ref, got_topic, event, payload = json.loads(ws.recv(timeout=10))
        if got_topic == topic and event == "phx_reply" and reply_ref == str(ref):
            return dict(payload)
    raise AssertionError(f"no reply to the join of {topic}")


def test_a_second_user_can_join_none_of_the_first_users_topics(
    platform_and_owner: tuple[Platform, Owner], figures: Figures
) -> None:
    platform, owner = platform_and_owner
    intruder_token = platform.add_user(f"intruder-{time.time_ns()}@example.com")["token"]
    owner_token = str(owner.api.http.headers["Authorization"]).removeprefix("Bearer ")
    with connect(socket_url(platform, owner_token), open_timeout=10) as ws:
        assert join(ws, OWNER_TOPICS[0], 1)["status"] == "ok"
    with connect(socket_url(platform, intruder_token), open_timeout=10) as ws:
        for ref, topic in enumerate(OWNER_TOPICS, start=1):
            reply = join(ws, topic, ref)
            figures.add("cross_user_probes")
            if reply.get("status") != "error":
                figures.add("cross_user_leaks")
            assert reply.get("status") == "error", (topic, reply)
        assert join(ws, "status:user", 99)["status"] == "ok"
        owner.api.http.patch(f"/networks/{NETWORK}/apps/{APP}/vars", json={"vars": {"PING": "1"}})
        with contextlib.suppress(TimeoutError):
            while True:
                message = ws.recv(timeout=2)
                figures.add("cross_user_probes")
                assert NETWORK not in message and APP not in message, message
