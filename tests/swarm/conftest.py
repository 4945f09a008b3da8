"""Fixtures of the Swarm runtime's tests: the engine (tests/support/docker.py), and two
releases of a small app built into images once per session."""

from __future__ import annotations

import contextlib
import http.client
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from maxlocal.runtime.swarm import images, services
from maxlocal.runtime.swarm.engine import APP
from tests.support.docker import app_name, base_image, docker_client

__all__ = ["app_name", "base_image", "docker_client"]

UID = 20_001
APP_PY = """
import http.server, os, pathlib, sys
VERSION = pathlib.Path("version.txt").read_text().strip()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{VERSION} {os.getuid()} {os.environ.get('GREETING', '-')}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        pass
sys.stdout.write(f"starting {VERSION}\\n")  # one write each: PYTHONUNBUFFERED=1 makes
sys.stderr.write(f"warming {VERSION}\\n")  # print() two, and a ticker's line can come between
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"""


@dataclass(frozen=True)
class Releases:
    """Two images of the same app, differing in code (version.txt): r1 and r2."""

    r1: str
    r2: str


@pytest.fixture(scope="session")
def releases(
    docker_client: object, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Releases]:
    import docker

    client: docker.DockerClient = docker_client  # type: ignore[assignment]
    owner = f"img{uuid.uuid4().hex[:8]}"
    tags = []
    for release in ("r1", "r2"):
        root = tmp_path_factory.mktemp(release)
        (root / "app.py").write_text(APP_PY)
        (root / "version.txt").write_text(release + "\n")
        built = images.build(
            client, root, base=base_image, app=owner, network="n", release=release, uid=UID
        )
        tags.append(built.tag)
    yield Releases(*tags)
    for image in client.images.list(filters={"label": f"{APP}={owner}"}):
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(image.id, force=True)


def spec(app: str, image: str, release: str, **changes: object) -> services.AppSpec:
    """The test app's spec: a health check on /, small limits."""
    base: dict[str, object] = {
        "app": app,
        "network": "n",
        "release": release,
        "image": image,
        "command": ["python3", "app.py"],
        "uid": UID,
        "replicas": 1,
        "variables": {"GREETING": "hello"},
        "limits": services.Limits(memory=96 << 20, pids=64, cpus=0.5),
        "health": services.Health(path="/", interval_s=0.5, start_period_s=20),
        "stop_grace_s": 2.0,
    }
    base.update(changes)
    return services.AppSpec(**base)  # type: ignore[arg-type]


def get(address: str, timeout: float = 5.0) -> str:
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200
        return response.read().decode().strip()
    finally:
        connection.close()


class Router:
    """What the platform's router does with the runtime's upstreams: forward to an instance
    as the engine lists it now, and on a refused or reset connection (an instance that just
    stopped) retry on the next, with the list read again. Counts what it had to retry."""

    def __init__(self, client: object, app: str) -> None:
        self.client = client
        self.app = app
        self.retries = 0

    def get(self, attempts: int = 60) -> str:
        last: Exception | None = None
        for _ in range(attempts):
            for address in services.upstreams(self.client, self.app):  # type: ignore[arg-type]
                try:
                    return get(address)
                except (ConnectionError, http.client.HTTPException, OSError) as exc:
                    self.retries += 1
                    last = exc
            time.sleep(0.05)
        raise AssertionError(f"no instance of {self.app} answered: {last}")
