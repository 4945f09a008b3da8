"""Issue 15, finding 9: ``/metrics`` named every tenant's networks and apps to anyone on the
machine, with no token. Now: no names without a token, a tenant's own apps with theirs, every
app with the operator's (the platform's first user, the one ``rig local`` signs in)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from maxlocal.admin import BOOTSTRAP_EMAIL
from tests.deploy.conftest import Api, new_api
from tests.hardening.harden_input_helpers import own_platform
from tests.support.platform import Platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with own_platform(tmp_path_factory, "metrics") as platform:
        yield platform


def scrape(platform: Platform, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{platform.url}/metrics", headers=headers, trust_env=False, timeout=30)


def labelled(text: str) -> set[tuple[str, str]]:
    return {
        (s.labels["network"], s.labels["app"])
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if "network" in s.labels
    }


def token_of(api: Api) -> str:
    return str(api.http.headers["Authorization"]).removeprefix("Bearer ")


@pytest.fixture(scope="module")
def tenants(platform: Platform) -> tuple[Api, Api]:
    alice, bob = new_api(platform), new_api(platform)
    for api, network in ((alice, "alice-shop"), (bob, "bob-blog")):
        assert api.http.post("/networks", json={"name": network}).status_code == 201
        assert api.http.post(f"/networks/{network}/apps", json={"name": "web"}).is_success
    return alice, bob


def test_without_a_token_metrics_name_no_tenant(platform: Platform, tenants: object) -> None:
    response = scrape(platform)
    assert response.status_code == 200
    assert "alice-shop" not in response.text and "bob-blog" not in response.text, response.text
    assert labelled(response.text) == set()
    assert "maxlocal_app_up" in response.text  # the families are still there, empty


def test_a_tenants_token_shows_only_their_apps(
    platform: Platform, tenants: tuple[Api, Api]
) -> None:
    alice, _ = tenants
    response = scrape(platform, token_of(alice))
    assert response.status_code == 200
    assert labelled(response.text) == {("alice-shop", "web")}
    assert "bob-blog" not in response.text


def test_the_operators_token_shows_every_app(platform: Platform, tenants: object) -> None:
    operator = platform.add_user(BOOTSTRAP_EMAIL)["token"]
    response = scrape(platform, operator)
    assert response.status_code == 200
    assert {("alice-shop", "web"), ("bob-blog", "web")} <= labelled(response.text)


def test_a_bad_token_is_refused(platform: Platform) -> None:
    response = scrape(platform, "mxt_not-a-token")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
