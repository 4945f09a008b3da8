"""Fixtures of the image-deploy tests: the engine (tests/support/docker.py), a local registry
(tests/support/registry.py), and "foreign" images in it that have no python3: busybox's
httpd serving a CGI script that prints the variables it got, its uid and its directory."""

from __future__ import annotations

import contextlib
import io
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from maxlocal.runtime.swarm import engine, imagedeploy, registry
from tests.support.docker import app_name, base_image, docker_client
from tests.support.registry import Registry, local_registry

__all__ = ["app_name", "base_image", "docker_client", "local_registry"]

CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf '%s|%s|%s|%s|%s\\n' "$GREETING" "$(id -u)" "$TRICKY" "$PWD" "{version}"
"""
CHANGES = [
    "ENV PATH=/bin",
    "WORKDIR /www",
    'CMD ["sh", "-c", "exec busybox httpd -f -p $PORT -h /www"]',
]


@dataclass(frozen=True)
class Foreign:
    """An image in the local registry without python3: its tag reference and the digest
    reference the push gave."""

    ref: str
    digest_ref: str


def rootfs(version: str = "v1") -> bytes:
    """bin/busybox (static) with bin/sh, a CGI script under www/, a world-writable tmp."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:

        def add(name: str, data: bytes | None, mode: int, kind: bytes = tarfile.REGTYPE) -> None:
            info = tarfile.TarInfo(name)
            info.mode, info.type = mode, kind
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)

        for directory in ("bin", "www", "www/cgi-bin"):
            add(directory, None, 0o755, tarfile.DIRTYPE)
        add("tmp", None, 0o1777, tarfile.DIRTYPE)
        add("bin/busybox", imagedeploy.find_busybox().read_bytes(), 0o755)
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
        add("www/cgi-bin/hello", CGI.format(version=version).encode(), 0o755)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def push_foreign(
    docker_client: object, local_registry: Registry
) -> Iterator[Callable[[str, str], Foreign]]:
    """``push(name, version)``: a foreign image pushed as ``<registry>/<name>:<version>`` and
    removed from the engine (only the registry has it); every pulled copy removed after."""
    import docker

    client: docker.DockerClient = docker_client  # type: ignore[assignment]
    pusher = engine.connect()
    registry.login(pusher, local_registry.address, local_registry.user, local_registry.password)
    made: list[str] = []

    def push(name: str, version: str) -> Foreign:
        local = f"{name}:{version}"
        client.api.import_image_from_data(
            rootfs(version), repository=name, tag=version, changes=CHANGES
        )
        ref = f"{local_registry.address}/{name}:{version}"
        digest_ref = registry.push(pusher, local, ref)
        made.extend((local, ref, digest_ref))
        for tag in (local, ref):
            client.api.remove_image(tag)
        return Foreign(ref, digest_ref)

    try:
        yield push
    finally:
        pusher.close()
        for leftover in made:
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_image(leftover, force=True)


@pytest.fixture(scope="module")
def foreign(push_foreign: Callable[[str, str], Foreign]) -> Foreign:
    return push_foreign(f"foreign{uuid.uuid4().hex[:8]}", "v1")
