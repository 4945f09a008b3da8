"""Cross-user scoping driven in this process: the store's owner filters (maxlocal/store/
networks.py, apps.py) and the lookups every route goes through (maxlocal/api/deps.py).

test_isolation.py and tests/reliability/test_cross_user_probes.py prove the same through a
platform process; these run the API in the test's process (Starlette's TestClient over
``build_app``) so that mutation testing (scripts/mutation-report scoping) sees which code
they reach. Two users, each with networks and apps whose names are close to the other's,
so that a filter dropped or a suggestion drawn from everyone's names shows.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from maxlocal.api import deps
from maxlocal.auth import Auth
from maxlocal.crypto import Vault
from maxlocal.errors import Conflict
from maxlocal.layout import Layout
from maxlocal.live import Live, user_topic
from maxlocal.platform import Platform, RuntimeOptions, Settings
from maxlocal.server import build_app
from maxlocal.store.db import Database
from maxlocal.store.networks import NameTaken

with warnings.catch_warnings():  # Starlette would rather have httpx2; httpx is what we ship
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


@dataclass
class World:
    platform: Platform
    alice: As
    bob: As
    anon: As


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A platform in this process: alice owns ``shop`` (apps ``api``, ``web``) and ``blog``;
    bob owns ``shoe`` (app ``apj``), one letter from alice's names."""
    # as open_platform, but with no bootstrap user: scrypt hashes would be most of the time
    db = Database.open(tmp_path)
    platform = Platform.build(
        db, Auth(db), Vault.open(tmp_path), Settings(), RuntimeOptions(Layout(tmp_path))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        client = TestClient(build_app(platform), base_url="http://localhost/api/v1")
    with client:
        tokens = []
        for email in ("alice@example.com", "bob@example.com"):
            user = platform.auth.users.create(email, "no password: API tokens only")
            tokens.append(platform.auth.create_api_token(user.id, f"{email} token")[1])
        alice, bob = (As(client, token) for token in tokens)
        for net, apps in (("shop", ("api", "web")), ("blog", ())):
            ok(alice.post("/networks", json={"name": net}), 201)
            for app in apps:
                ok(alice.post(f"/networks/{net}/apps", json={"name": app}), 201)
        ok(bob.post("/networks", json={"name": "shoe"}), 201)
        ok(bob.post("/networks/shoe/apps", json={"name": "apj"}), 201)
        yield World(platform, alice, bob, As(client, None))


class As:
    """The one TestClient, each request carrying a user's token (or none)."""

    def __init__(self, client: TestClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **(kwargs.pop("headers", None) or {})}
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def error(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    found: dict[str, str] = response.json()["error"]
    return found


def test_listings_hold_only_the_callers_resources(world: World) -> None:
    assert [n["name"] for n in ok(world.alice.get("/networks"))] == ["blog", "shop"]
    assert [(n["name"], n["apps"]) for n in ok(world.bob.get("/networks"))] == [("shoe", 1)]
    assert [(a["network"], a["name"]) for a in ok(world.alice.get("/apps"))] == [
        ("shop", "api"),
        ("shop", "web"),
    ]
    assert [(a["network"], a["name"]) for a in ok(world.bob.get("/apps"))] == [("shoe", "apj")]
    assert ok(world.bob.get("/apps", params={"network": "shop"})) == []
    assert ok(world.bob.get("/apps", params={"name": "api"})) == []
    assert [a["name"] for a in ok(world.alice.get("/apps", params={"name": "web"}))] == ["web"]
    assert [a["name"] for a in ok(world.alice.get("/apps", params={"network": "shop"}))] == [
        "api",
        "web",
    ]
    status = ok(world.bob.get("/status"))
    assert [n["name"] for n in status["networks"]] == ["shoe"]
    assert status["totals"]["networks"] == 1 and status["totals"]["apps"] == 1
    details = ok(world.alice.get("/networks/shop"))
    assert [a["name"] for a in details["apps"]] == ["api", "web"]
    assert "shoe" not in str(ok(world.alice.get("/status"))) + str(details)


def test_another_users_network_or_app_is_not_found_as_if_it_did_not_exist(world: World) -> None:
    """The same 404 as for a name nobody has, and its hint drawn from the caller's own names:
    bob asking for ``shop`` is offered ``shoe``, never alice's ``shop``, ``blog`` or apps."""
    asked = [
        (world.bob.get("/networks/shop"), "network 'shop' not found"),
        (world.bob.get("/networks/shop/apps/api"), "network 'shop' not found"),
        (world.bob.post("/networks/shop/apps", json={"name": "x"}), "network 'shop' not found"),
        (world.bob.delete("/networks/blog"), "network 'blog' not found"),
        (world.bob.get("/networks/shop/vars"), "network 'shop' not found"),
        (world.bob.get("/networks/shop/apps/api/secrets"), "network 'shop' not found"),
        (world.bob.get("/networks/shop/status"), "network 'shop' not found"),
    ]
    for response, message in asked:
        found = error(response, 404)
        assert found["message"] == message, found
        assert "blog" not in found["hint"] and "`shop`" not in found["hint"], found
        assert "alice" not in response.text
    hint = error(world.bob.get("/networks/shop"), 404)["hint"]
    assert hint == "did you mean `shoe`? Run `rig list networks` to see yours"
    hint = error(world.bob.get("/networks/blog"), 404)["hint"]
    assert hint == "run `rig list networks` to see yours"
    # an app of bob's own network: the hint names his apps only
    app = error(world.bob.get("/networks/shoe/apps/api"), 404)
    assert app["message"] == "app 'api' not found in network 'shoe'"
    assert app["hint"] == ("did you mean `apj`? Run `rig list apps --network shoe` to see its apps")
    far = error(world.alice.get("/networks/shop/apps/zzzz"), 404)["hint"]
    assert far == "run `rig list apps --network shop` to see its apps"
    # the hint names apps of the network asked about, not the user's others
    other = error(world.alice.get("/networks/blog/apps/api"), 404)["hint"]
    assert other == "run `rig list apps --network blog` to see its apps"
    # and each user's own app is found, in its own network only
    assert ok(world.alice.get("/networks/shop/apps/web"))["name"] == "web"
    assert ok(world.bob.get("/networks/shoe/apps/apj"))["network"] == "shoe"
    error(world.alice.get("/networks/blog/apps/web"), 404)
    # alice's state is as she left it
    assert ok(world.alice.get("/networks/shop"))["apps"][0]["name"] == "api"
    assert ok(world.alice.get("/networks/blog"))["name"] == "blog"


def test_network_names_are_the_platforms_and_app_names_the_networks(world: World) -> None:
    taken = error(world.bob.post("/networks", json={"name": "shop"}), 409)
    assert taken["message"] == "network name 'shop' is already taken"
    assert "alice" not in str(taken)
    assert [n["name"] for n in ok(world.bob.get("/networks"))] == ["shoe"]
    ok(world.bob.post("/networks/shoe/apps", json={"name": "api"}), 201)
    again = error(world.bob.post("/networks/shoe/apps", json={"name": "api"}), 409)
    assert again["message"] == "app 'api' already exists in network 'shoe'"
    generated = ok(world.bob.post("/networks"), 201)["name"]
    assert generated not in ("shop", "blog", "shoe")
    assert sorted(n["name"] for n in ok(world.bob.get("/networks"))) == sorted(["shoe", generated])


def test_only_a_known_bearer_token_is_anyone(world: World) -> None:
    missing = error(world.anon.get("/networks"), 401)
    assert missing["message"] == "missing bearer token"
    assert missing["hint"] == "sign in with `rig login`"
    error(world.anon.get("/networks", headers={"Authorization": "Bearer mxt_nope"}), 401)


def test_the_store_scopes_every_lookup_to_its_owner(world: World) -> None:
    networks, apps = world.platform.networks, world.platform.apps
    alice = world.platform.auth.users.by_email("alice@example.com")
    bob = world.platform.auth.users.by_email("bob@example.com")
    assert alice and bob
    alice_id, bob_id = alice[0].id, bob[0].id
    assert networks.get(bob_id, "shop") is None
    shop = networks.get(alice_id, "shop")
    assert shop is not None and shop.user_id == alice_id and shop.app_count == 2
    assert networks.owner("shop") == alice_id and networks.owner("shoe") == bob_id
    assert networks.owner("nowhere") is None
    assert apps.find(bob_id, "shop") == [] and apps.find(bob_id, name="web") == []
    assert [a.key for a in apps.find(alice_id, "shop", "web")] == ["shop/web"]
    api = apps.get(shop.id, "api")
    assert api is not None and api.network == "shop" and api.key == "shop/api"
    assert api.network_id == shop.id and api.release is None
    world.platform.db.connection().execute("UPDATE apps SET release = 3 WHERE id = ?", (api.id,))
    api = apps.get(shop.id, "api")
    assert api is not None and api.release == 3
    assert apps.by_key("shop", "api") == api and apps.by_key("shoe", "api") is None
    assert [a.key for a in apps.everything()] == ["shoe/apj", "shop/api", "shop/web"]
    apps.set_state("shop", "api", "stopped")
    assert apps.by_key("shop", "api").state == "stopped"  # type: ignore[union-attr]
    assert apps.by_key("shop", "web").state != "stopped"  # type: ignore[union-attr]
    with pytest.raises(NameTaken):
        networks.create(bob_id, "shop")
    with pytest.raises(NameTaken):
        apps.create(shop.id, "api")
    assert not networks.delete_if_empty(shop.id)
    blog = networks.get(alice_id, "blog")
    assert blog is not None and networks.delete_if_empty(blog.id)
    assert networks.get(alice_id, "blog") is None
    apps.delete(api.id)
    assert [a.name for a in apps.find(alice_id, "shop")] == ["web"]
    networks.delete(shop.id)
    assert [n.name for n in networks.of_user(alice_id)] == []
    assert [n.name for n in networks.of_user(bob_id)] == ["shoe"]


def test_a_generated_name_is_retried_until_free_and_then_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tried: list[str] = []

    def create(name: str) -> str:
        tried.append(name)
        if len(tried) < 3:
            raise NameTaken(name)
        return name

    names = iter(f"gen-{i}" for i in range(100))
    monkeypatch.setattr(deps.names, "generate_name", lambda: next(names))
    assert deps.create_named(create, None, lambda: Conflict("no", "")) == "gen-2"
    assert tried == ["gen-0", "gen-1", "gen-2"]

    def always_taken(name: str) -> str:
        tried.append(name)
        raise NameTaken(name)

    tried.clear()
    with pytest.raises(Conflict) as gave_up:
        deps.create_named(always_taken, None, lambda: Conflict("no", ""))
    assert (gave_up.value.message, gave_up.value.hint) == (
        "could not find a free name to generate",
        "give a name",
    )
    assert len(tried) == deps.GENERATE_ATTEMPTS
    taken = Conflict("taken", "choose another name")
    with pytest.raises(Conflict) as raised:
        deps.create_named(always_taken, "mine", lambda: taken)
    assert raised.value is taken and tried[-1] == "mine"


def test_the_socket_lets_each_user_join_only_their_own_log_topics(world: World) -> None:
    """``Live.authorize``/``authenticate`` (maxlocal/live.py), as the socket asks them, and
    ``status:user`` events delivered to the owner of the app only."""
    live = Live.build(world.platform)
    alice = world.platform.auth.users.by_email("alice@example.com")
    bob = world.platform.auth.users.by_email("bob@example.com")
    assert alice and bob
    a, b = str(alice[0].id), str(bob[0].id)
    theirs = ["logs:app:shop/api", "logs:build:shop/web", "logs:network:shop", "logs:network:blog"]
    for topic in theirs:
        assert live.authorize(a, topic) and not live.authorize(b, topic), topic
    assert live.authorize(b, "logs:app:shoe/apj") and not live.authorize(a, "logs:app:shoe/apj")
    for refused in ("logs:app:shop/nope", "logs:app:nowhere/api", "logs:app:shop", "logs:x:shop"):
        assert not live.authorize(a, refused), refused
    # status:user is each user's own; exec:* topics are checked by their own handler
    assert live.authorize(b, "status:user") and live.authorize(b, "exec:shop/api")
    api = world.platform.auth.create_api_token(alice[0].id, "socket")[1]
    identity = live.authenticate(api)
    assert identity is not None and identity.user_id == a
    assert live.authenticate("mxt_" + "0" * 40) is None and live.authenticate("") is None

    heard: dict[str, list[tuple[str, dict[str, Any]]]] = {a: [], b: []}

    async def deliver() -> None:
        for user in (a, b):
            live.pubsub.subscribe(
                user_topic(user), partial(lambda u, e, p: heard[u].append((e, p)), user)
            )
        live._app_state("shop/api", "running", {"pid": 1})
        live._release("shoe/apj", 2, "active", {})
        live._owner_publish("nowhere/x", "app_state", {})  # an app nobody owns: nobody hears

    asyncio.run(deliver())
    assert heard[a] == [
        ("app_state", {"network": "shop", "app": "api", "pid": 1, "state": "running"})
    ]
    assert heard[b] == [
        ("release", {"network": "shoe", "app": "apj", "number": 2, "status": "active"})
    ]
