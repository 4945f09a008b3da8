"""The connection to the Docker Engine, and the names every Swarm object of the platform carries.

One pinned API version: 1.41 is Debian 12's docker.io (20.10), the oldest engine the runtime is
tested on, and has everything used here (services with ``start-first`` updates and health checks
(1.29+), host-mode published ports with their per-task status (1.25+), secrets with uid/mode
(1.25+), ``Init`` (1.37+), and ``PidsLimit`` on a service's resources (1.41)). Pinning it,
instead of negotiating, means a newer engine answers the same shapes this code was tested with.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker

API_VERSION = "1.41"
TIMEOUT_S = 60
LABEL_PREFIX = "io.maxlocal."
APP = LABEL_PREFIX + "app"
NETWORK = LABEL_PREFIX + "network"
RELEASE = LABEL_PREFIX + "release"
PROCESS = LABEL_PREFIX + "process"
"""The process type a service runs (``web``, ``worker``): only ``web`` publishes a port."""
MANAGED = LABEL_PREFIX + "managed"
"""On everything the platform makes (images, services, secrets): how a restarted platform
finds its own, and how a test run removes what it made (``reconcile``, ``remove``)."""


class EngineError(Exception):
    """The engine cannot be reached or refused an operation: one line, said to the operator."""


def connect(base_url: str | None = None) -> docker.DockerClient:
    """A client of the engine at ``base_url`` (``DOCKER_HOST`` or the default socket when
    None) that has answered a ping; EngineError saying why not."""
    import docker
    import docker.errors
    import requests.exceptions

    try:
        if base_url is None:
            client = docker.from_env(version=API_VERSION, timeout=TIMEOUT_S)
        else:
            client = docker.DockerClient(base_url=base_url, version=API_VERSION, timeout=TIMEOUT_S)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        where = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise EngineError(f"no Docker engine answers at {where}: {_reason(exc)}") from exc
    return client


def _reason(exc: BaseException) -> str:
    """The innermost OS error's words (``No such file or directory``), else the message."""
    found: BaseException | None = exc
    while found is not None:
        for arg in (found, *found.args):
            if isinstance(arg, OSError) and arg.strerror:
                return arg.strerror
        found = found.__cause__ or found.__context__
    return str(exc)


def swarm_active(client: docker.DockerClient) -> bool:
    info = client.info()
    return bool(info.get("Swarm", {}).get("LocalNodeState") == "active")
