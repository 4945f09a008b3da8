"""Images through a registry against the real engine and a local ``docker-registry`` (Debian's
CNCF distribution) on a loopback port with htpasswd auth: push a release image, deploy a
service from its digest reference, and the errors of a missing image, bad credentials and an
unreachable registry."""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from maxlocal.runtime.swarm import engine, registry, services
from tests.swarm.conftest import UID, Releases, get, spec

pytestmark = [pytest.mark.swarm, pytest.mark.slow]


@dataclass(frozen=True)
class Registry:
    address: str
    user: str
    password: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("registry")
    user, password = "rig", secrets.token_urlsafe(12)
    line = subprocess.run(
        ["htpasswd", "-Bbn", user, password], capture_output=True, text=True, check=True
    ).stdout.strip()
    (root / "htpasswd").write_text(line + "\n")
    port = _free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
        f"auth: {{htpasswd: {{realm: rig-tests, path: {root / 'htpasswd'}}}}}\n"
    )
    log = (root / "registry.log").open("w")
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert process.poll() is None, Path(log.name).read_text()
            assert time.monotonic() < deadline, "docker-registry did not listen"
            time.sleep(0.05)
        yield Registry(f"127.0.0.1:{port}", user, password)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


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

    closed = f"127.0.0.1:{_free_port()}"
    with pytest.raises(registry.RegistryError, match=f"registry of {closed}/x:1 is unreachable"):
        registry.pull(client, f"{closed}/x:1")
