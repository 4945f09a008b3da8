"""The fast tier: every test here runs rig and maxlocal in the test's own process
(tests/support/inprocess.py), each test as a new user with an empty account on the worker's one
platform. Tests here are marked ``inprocess``: ``pytest -m inprocess`` runs this tier alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.api.client import Api
from rig.transport.http import ApiClient, Tokens
from tests.support.inprocess import InProcessPlatform, InProcessRig

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.inprocess)


@pytest.fixture(scope="session")
def inprocess_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessPlatform]:
    """maxlocal in this process, shared by this worker's tests (each with a user of its own)."""
    platform = InProcessPlatform(tmp_path_factory.mktemp("inprocess"))
    yield platform
    platform.close()


@pytest.fixture
def api(inprocess_platform: InProcessPlatform) -> Iterator[Api]:
    """rig's API layer, as a new user of the in-process platform. Their networks are deleted
    after the test: names are unique on the platform, and the next test may want them."""
    _, token = inprocess_platform.user()
    client = ApiClient(inprocess_platform.url, Tokens(token))
    api = Api(client)
    try:
        yield api
        for network in api.networks():
            api.delete_network(network["name"], force=True)
    finally:
        client.close()


@pytest.fixture
def user_rig(api: Api, tmp_path: Path) -> InProcessRig:
    """``rig`` in this process, as ``api``'s user, with a config directory of its own."""
    assert api.client.tokens is not None
    return InProcessRig(api.client.base_url, api.client.tokens.access_token, tmp_path / "rig")
