from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.platform import Platform, PlatformFactory

Client = httpx.Client


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One server for a whole module; tests keep apart by using their own users and names."""
    factory = PlatformFactory(tmp_path_factory.mktemp("shared"))
    yield factory()
    factory.stop_all()


@pytest.fixture
def shared_port(shared: Platform) -> int:
    return shared.port


def api_client(platform: Platform, token: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"{platform.url}/api/v1", headers=headers, timeout=10)


@pytest.fixture
def new_user(shared: Platform) -> Iterator[Callable[[], Client]]:
    """Makes clients for fresh users of the shared server, authenticated with an API token."""
    clients: list[Client] = []

    def make() -> Client:
        user = shared.add_user(f"user-{uuid.uuid4().hex[:10]}@example.com")
        client = api_client(shared, user["token"])
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def alice(new_user: Callable[[], Client]) -> Client:
    return new_user()


@pytest.fixture
def bob(new_user: Callable[[], Client]) -> Client:
    return new_user()


@pytest.fixture
def anon(shared: Platform) -> Iterator[Client]:
    with api_client(shared) as client:
        yield client


def unique(prefix: str = "n") -> str:
    """A network name no other test uses."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error body of `response`, after checking its status, code and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "hint"}
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["hint"], str)
    return error
