"""A second user's token against every endpoint of the OpenAPI document, aimed at the first
user's resources: never a 2xx on them, never a byte of their data, nothing of theirs changed."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.deploy.conftest import Api, new_api, web_app
from tests.reliability.figures import Figures
from tests.reliability.served import served
from tests.support.platform import Platform, PlatformFactory

NETWORK, APP = "owner-net", "owner-app"
VAR_VALUE = "var-value-of-the-owner-7f3a"
SECRET_VALUE = "secret-value-of-the-owner-9c1e"
MESSAGE = "release-message-of-the-owner-2b8d"
TOKEN_NAME = "token-name-of-the-owner-5d0c"
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


# What "no leak" means, route by route. Every route the platform serves must fall under one of
# these (a new route fails the probe until someone decides which): see ``policy``.
PUBLIC = {"/api/v1/health", "/api/v1/openapi.json", "/api/v1/docs", "/docs/oauth2-redirect"}
OWN_OUTSIDE_API = {"/metrics"}  # a tenant's token shows their own apps, no one else's
CREDENTIALS = ("/api/v1/auth/", "/device")  # take credentials, not a bearer token


def policy(method: str, path: str) -> str:
    """``owned``: aimed at the owner's resource by name, must answer 403/404 and carry nothing
    of theirs; ``own``: the caller's own account (listings, creation), may answer 2xx but
    name none of the owner's resources (the metrics too); ``public``: nothing of the owner's;
    ``credentials``: the owner's email with a wrong password, or made-up tokens and codes,
    never make a session."""
    if path in PUBLIC:
        return "public"
    if path in OWN_OUTSIDE_API:
        return "own"
    if path.startswith(CREDENTIALS):
        return "credentials"
    if path.startswith("/api/v1/"):
        return "owned" if "{" in path else "own"
    raise AssertionError(
        f"{method} {path}: no cross-user policy; decide in test_cross_user_probes.policy what "
        "'no leak' means for it"
    )


def fill(path: str, owner: Owner, key: str) -> str:
    values = {"network": NETWORK, "app": APP, "number": "1", "token_id": str(owner.token_id)}
    values["key"] = key
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)


def request_for(method: str, path: str, owner: Owner) -> dict[str, Any]:
    """A plausible request: a body that would pass validation, the owner's names in queries,
    the owner's email (with a wrong password) where credentials go."""
    if path.endswith("/releases") and method == "POST":
        data = web_app("intruder")
        headers = {"Content-Type": "application/gzip"}
        headers["X-Checksum-Sha256"] = hashlib.sha256(data).hexdigest()
        return {"content": data, "headers": headers}
    if path == "/device":
        form = {"code": "ABCD-EFGH", "email": owner.email, "password": "wrong-password"}
        return {"data": form} if method == "POST" else {"params": {"code": "ABCD-EFGH"}}
    params = {"network": NETWORK, "name": APP} if path.endswith("/apps") else {}
    bodies: list[tuple[str, Any]] = [
        ("/vars", {"vars": {"OWNER_VAR": "changed"}}),
        ("/secrets", {"secrets": {"OWNER_SECRET": "changed"}}),
        ("/apps", {"name": APP}),
        ("/networks", {"name": NETWORK}),
        ("/rollback", {"to": 1}),
        ("/releases/image", {"image": "registry.example.com/team/api:1.4"}),
        ("/scale", {"instances": 2}),
        ("/tokens", {"name": "intruder"}),
        ("/auth/login", {"email": owner.email, "password": "wrong-password"}),
        ("/auth/token", {"token": "mxt_made_up"}),
        ("/auth/refresh", {"refresh_token": "made-up"}),
        ("/auth/logout", {"refresh_token": "made-up"}),
        ("/auth/device/token", {"device_code": "made-up"}),
    ]
    body = next((b for suffix, b in bodies if path.endswith(suffix)), {})
    return (
        {"json": body, "params": params}
        if method in ("POST", "PATCH", "PUT")
        else {"params": params}
    )


def leaked(response: httpx.Response, owner: Owner, sent: str, names: bool = True) -> list[str]:
    """The owner's data in ``response``: their email, values, release message, token name,
    checksum and (unless ``names`` is off) the names of their network and app. An error may
    repeat what the caller ``sent`` (a 404 naming the network asked for); a 2xx may not."""
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    markers = [owner.email, VAR_VALUE, SECRET_VALUE, MESSAGE, TOKEN_NAME, owner.checksum]
    markers += [NETWORK, APP] if names else []
    found = [m for m in markers if m and m in text]
    if not response.is_success:
        found = [m for m in found if m not in sent]
    return found


def probe(
    http: httpx.Client, method: str, template: str, owner: Owner, key: str
) -> tuple[str, list[str]]:
    """One request of the intruder's; what is wrong with the answer."""
    path = fill(template, owner, key)
    request = request_for(method, path, owner)
    response = http.request(method, path, **request)
    sent = f"{path} {request.get('params', '')} {request.get('json', '')} {request.get('data', '')}"
    kind = policy(method, template)
    problems = [f"leaks {m!r}" for m in leaked(response, owner, sent)]
    if kind == "owned" and response.status_code not in (403, 404):
        problems.append(f"answered {response.status_code} on the owner's resource")
    if kind == "credentials" and "access_token" in response.text:
        problems.append("made a session")
    if template.endswith("/networks") and method == "POST" and response.status_code != 409:
        problems.append(f"creating the owner's network name answered {response.status_code}")
    if response.status_code >= 500:
        problems.append(f"answered {response.status_code}")
    return f"{method} {path}: {response.status_code}", problems


def test_a_second_user_gets_nothing_of_the_first_users_resources(
    platform_and_owner: tuple[Platform, Owner], figures: Figures, tmp_path: Path
) -> None:
    """Every route of the platform's own table (tests/reliability/served.py), with the
    intruder's token, aimed at the owner's resources by name."""
    platform, owner = platform_and_owner
    routes = served(tmp_path / "tables").routes
    before = owner.snapshot()
    intruder = new_api(platform)
    assert intruder.http.post("/networks", json={"name": "intruder-net"}).status_code == 201
    created = intruder.http.post("/networks/intruder-net/apps", json={"name": "intruder-app"})
    assert created.status_code == 201  # so that the intruder's listings are not empty
    http = httpx.Client(
        base_url=platform.url, headers=dict(intruder.http.headers), timeout=30, trust_env=False
    )
    problems: list[str] = []
    ordered = sorted(routes, key=lambda r: (METHOD_ORDER.get(r[0].lower(), 9), r[1]))
    for method, template in ordered:
        for key in ("OWNER_VAR", "OWNER_SECRET", "NET_VAR"):
            if "{key}" not in template and key != "OWNER_VAR":
                continue
            answer, wrong = probe(http, method, template, owner, key)
            figures.add("cross_user_probes")
            if wrong:
                figures.add("cross_user_leaks")
                problems.append(f"{answer}: {'; '.join(wrong)}")
    http.close()
    intruder.http.close()
    assert not problems, "\n".join(problems)
    assert owner.snapshot() == before
    figures.set("cross_user_endpoints", len(routes))


def test_the_owner_is_untouched_and_still_served(
    platform_and_owner: tuple[Platform, Owner],
) -> None:
    _, owner = platform_and_owner
    status = owner.api.status(NETWORK, APP)
    assert status["state"] == "running" and status["release"] == 1, status
    secrets = owner.api.http.get(f"/networks/{NETWORK}/apps/{APP}/secrets").json()
    assert [s["key"] for s in secrets] == ["OWNER_SECRET"]


# What follows a topic pattern's prefix ("logs:*" -> "logs:"), aimed at the owner's network and
# app: the shapes the platform's topics take, and near misses of them.
TOPIC_SHAPES = [
    f"app:{NETWORK}/{APP}",
    f"build:{NETWORK}/{APP}",
    f"network:{NETWORK}",
    f"{NETWORK}/{APP}",
    NETWORK,
    f"app:{NETWORK.upper()}/{APP}",
    f"app:{NETWORK}/{APP}/",
    f"app:{NETWORK}//{APP}",
    f"network:{NETWORK}/{APP}",
]


def aimed_at_the_owner(pattern: str) -> list[str]:
    """The topics of ``pattern`` that name the owner's resources (none: a topic of its own)."""
    return [pattern[:-1] + shape for shape in TOPIC_SHAPES] if pattern.endswith("*") else []


# Params every handler takes: a log topic's replay point, a remote session's command (without
# one an exec join is refused for its params, before the topic's owner is looked at).
JOIN_PARAMS = {"after": 0, "kind": "command", "cmd": "true", "cols": 80, "rows": 24}


def socket_url(platform: Platform, token: str) -> str:
    return f"ws://127.0.0.1:{platform.port}/socket/websocket?vsn=2.0.0&token={token}"


def join(ws: Any, topic: str, ref: int) -> dict[str, Any]:
    """Join ``topic``; the reply's payload. Messages of other topics are skipped."""
    ws.send(json.dumps([str(ref), str(ref), topic, "phx_join", JOIN_PARAMS]))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, reply_ref, got_topic, event, payload = json.loads(ws.recv(timeout=10))
        if got_topic == topic and event == "phx_reply" and reply_ref == str(ref):
            return dict(payload)
    raise AssertionError(f"no reply to the join of {topic}")


def test_a_second_user_can_join_none_of_the_first_users_topics(
    platform_and_owner: tuple[Platform, Owner], figures: Figures, tmp_path: Path
) -> None:
    """Every topic pattern of the platform's socket (its own table): each has topics naming
    the owner's resources that the owner can join (so the probe aims at something real),
    and the intruder can join none of them. A topic of the caller's own (``status:user``)
    tells the intruder nothing of the owner's."""
    platform, owner = platform_and_owner
    patterns = served(tmp_path / "tables").topics
    intruder_token = platform.add_user(f"intruder-{time.time_ns()}@example.com")["token"]
    owner_token = str(owner.api.http.headers["Authorization"]).removeprefix("Bearer ")
    owned = {pattern: aimed_at_the_owner(pattern) for pattern in patterns}
    with connect(socket_url(platform, owner_token), open_timeout=10) as ws:
        for pattern, topics in owned.items():
            if topics:
                joined = [t for i, t in enumerate(topics) if join(ws, t, i)["status"] == "ok"]
                assert joined, f"{pattern}: the owner can join none of {topics}"
    problems = []
    with connect(socket_url(platform, intruder_token), open_timeout=10) as ws:
        ref = 0
        for topic in (t for topics in owned.values() for t in topics):
            ref += 1
            reply = join(ws, topic, ref)
            figures.add("cross_user_probes")
            if reply.get("status") != "error":
                figures.add("cross_user_leaks")
                problems.append(f"the intruder joined {topic}: {reply}")
        own = [pattern for pattern, topics in owned.items() if not topics]
        for topic in own:
            ref += 1
            assert join(ws, topic, ref)["status"] == "ok", topic
        owner.api.http.patch(f"/networks/{NETWORK}/apps/{APP}/vars", json={"vars": {"PING": "1"}})
        deadline = time.monotonic() + 3
        with contextlib.suppress(TimeoutError):
            while (left := deadline - time.monotonic()) > 0:
                message = ws.recv(timeout=left)
                figures.add("cross_user_probes")
                if NETWORK in str(message) or APP in str(message):
                    figures.add("cross_user_leaks")
                    problems.append(f"on {own}: {message}")
    figures.set("cross_user_topic_patterns", len(patterns))
    assert not problems, "\n".join(problems)
