"""The Docker engine for the Swarm runtime's tests (tests/swarm): found, or the tests say why not.

``scripts/docker-up`` starts it (``.ci/run`` does, before the suite); these fixtures only look
for it. Outside CI a machine without one skips the Swarm tests with the reason shown in the
summary; under ``CI=true`` that is a failure (the CI rule of tests/support/ci.py: CI has every
tool, so a test that did not run there is a hole), raised loudly with the hint to start it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest

from maxlocal.runtime.swarm import base, engine
from tests.support.ci import under_ci

HINT = "start one with scripts/docker-up (needs docker.io: scripts/install-system-deps)"


def _unavailable(why: str) -> None:
    if under_ci():
        pytest.fail(f"CI=true and no swarm to test against: {why}; {HINT}", pytrace=False)
    pytest.skip(f"no Docker swarm: {why}; {HINT}")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    """A client of the engine in swarm mode (``DOCKER_HOST`` or the default socket)."""
    try:
        client = engine.connect()
    except engine.EngineError as exc:
        _unavailable(str(exc))
    if not engine.swarm_active(client):
        _unavailable("the engine is not in swarm mode")
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: object) -> str:
    """The base image's tag: imported once per engine (built once per recipe, cached)."""
    return base.ensure(docker_client)  # type: ignore[arg-type]


@pytest.fixture
def app_name(docker_client: object) -> Iterator[str]:
    """A fresh app name; whatever the test made under it (services, secrets, images) is
    removed afterwards, whether the test passed or not."""
    import docker

    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    client: docker.DockerClient = docker_client  # type: ignore[assignment]
    mine = {"label": f"{engine.APP}={name}"}
    for service in client.services.list(filters=mine):
        with contextlib.suppress(docker.errors.NotFound):
            service.remove()
    _wait_no_containers(client, name)
    for secret in client.secrets.list(filters=mine):
        with contextlib.suppress(docker.errors.APIError):
            secret.remove()
    for image in client.images.list(filters=mine):
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(image.id, force=True)


def _wait_no_containers(client: object, name: str, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    filters = {"label": f"{engine.APP}={name}"}
    while client.api.containers(all=True, filters=filters) and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.2)
