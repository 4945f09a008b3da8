"""Images through a registry against the real engine and a local ``docker-registry`` (Debian's
CNCF distribution) on a loopback port with htpasswd auth: push a release image, deploy a
service from its digest reference, and the errors of a missing image, bad credentials and an
unreachable registry."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from maxlocal.runtime.swarm import engine, registry, services
from tests.support.registry import Registry, free_port, local_registry
from tests.swarm.conftest import UID, Releases, get, spec

__all__ = ["local_registry"]

pytestmark = [pytest.mark.swarm, pytest.mark.slow]


@pytest.fixture
def client() -> Iterator[object]:
    """A client of its own: the credentials it logs in with stay in this test."""
    made = engine.connect()
    yield made
    made.close()


def test_swarm_image_pushed_to_a_registry_runs_by_digest(
    client, releases: Releases, local_registry: Registry, app_name: str
) -> None:
    registry.login(client, local_registry.address, local_registry.user, local_registry.password)
    reference = f"{local_registry.address}/{app_name}:r1"
    pushed = registry.push(client, releases.r1, reference)
    assert pushed.startswith(f"{local_registry.address}/{app_name}@sha256:")
    client.api.remove_image(reference)
    assert registry.pull(client, reference) == pushed

    services.deploy(client, spec(app_name, pushed, "r1"))
    (instance,) = services.wait_converged(client, app_name, "r1", 1)
    assert get(instance.address) == f"r1 {UID} hello"
    with contextlib.suppress(Exception):
        client.api.remove_image(reference)


def test_swarm_registry_errors_are_said(client, local_registry: Registry) -> None:
    with pytest.raises(registry.RegistryError, match="refused the credentials"):
        registry.login(client, local_registry.address, local_registry.user, "wrong")

    registry.login(client, local_registry.address, local_registry.user, local_registry.password)
    with pytest.raises(registry.RegistryError, match=r"image .*/nothing:1 not found"):
        registry.pull(client, f"{local_registry.address}/nothing:1")

    closed = f"127.0.0.1:{free_port()}"
    with pytest.raises(registry.RegistryError, match=f"registry of {closed}/x:1 is unreachable"):
        registry.pull(client, f"{closed}/x:1")
