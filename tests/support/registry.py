"""A local container registry for tests: Debian's ``docker-registry`` (the CNCF distribution)
on a loopback port, with htpasswd auth and a random password, stopped at the end. The engine
treats 127.0.0.0/8 registries as plain-HTTP ones, so no TLS is needed. Used by tests/swarm and
tests/image (``from tests.support.registry import local_registry``)."""

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


@dataclass(frozen=True)
class Registry:
    address: str
    user: str
    password: str


def free_port() -> int:
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
    port = free_port()
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
