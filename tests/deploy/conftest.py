from __future__ import annotations

import hashlib
import io
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from maxlocal.runtime.driver import DEFAULT_RUNTIME, names
from tests.support.docker import base_image, docker_client
from tests.support.platform import Platform, PlatformFactory

__all__ = ["base_image", "docker_client"]

# Answers GET with "<GREETING> from <RELEASE_NAME>\n"; prints a line at start.
WEB_APP = """\
import http.server, os

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (os.environ.get("GREETING", "hello") + " from " + VERSION + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print("served", self.path, flush=True)

VERSION = open("VERSION").read().strip()
print("listening on", os.environ["PORT"], "version", VERSION, flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

UPLOAD_LIMIT = 2 * 1024 * 1024
HEALTH_TIMEOUT = 150  # seconds: far beyond any start on a loaded machine
PY = "python3"  # the release's own Python: a sandboxed app cannot see the test run's


def archive(files: dict[str, str | bytes], extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    return buffer.getvalue()


def web_app(version: str, build: str | None = None, procfile: str | None = None) -> bytes:
    files: dict[str, str | bytes] = {
        "app.py": WEB_APP,
        "VERSION": version,
        "Procfile": procfile or f"web: {PY} app.py\n",
    }
    if build is not None:
        files["rig.toml"] = f"build = {build!r}\n"
    return archive(files)


class Api:
    """A user's API client, with the deploy helpers the tests share."""

    def __init__(self, platform: Platform, token: str) -> None:
        self.platform = platform
        self.http = httpx.Client(
            base_url=f"{platform.url}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            trust_env=False,
        )

    def new_app(self, app: str = "api") -> tuple[str, str]:
        network = f"n{uuid.uuid4().hex[:10]}"
        assert self.http.post("/networks", json={"name": network}).status_code == 201
        assert self.http.post(f"/networks/{network}/apps", json={"name": app}).status_code == 201
        return network, app

    def upload(
        self, network: str, app: str, data: bytes, checksum: str | None = None, **params: Any
    ) -> httpx.Response:
        headers = {
            "Content-Type": "application/gzip",
            "X-Checksum-Sha256": checksum or hashlib.sha256(data).hexdigest(),
        }
        return self.http.post(
            f"/networks/{network}/apps/{app}/releases", content=data, headers=headers, params=params
        )

    def release(self, network: str, app: str, number: int) -> dict[str, Any]:
        response = self.http.get(f"/networks/{network}/apps/{app}/releases/{number}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, network: str, app: str, number: int, timeout: float = 60) -> dict[str, Any]:
        """The release once it is active or failed."""
        deadline = time.monotonic() + timeout
        while True:
            release = self.release(network, app, number)
            if release["status"] in ("active", "failed"):
                return release
            assert time.monotonic() < deadline, f"release still {release['status']}"
            time.sleep(0.05)

    def deploy(self, network: str, app: str, data: bytes, **params: Any) -> dict[str, Any]:
        response = self.upload(network, app, data, **params)
        assert response.status_code == 202, response.text
        return self.wait(network, app, response.json()["number"])

    def status(self, network: str, app: str) -> dict[str, Any]:
        return self.http.get(f"/networks/{network}/apps/{app}/status").json()

    def logs(self, network: str, app: str, kind: str = "", **params: Any) -> list[dict[str, Any]]:
        path = f"/networks/{network}/apps/{app}/logs" + (f"/{kind}" if kind else "")
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


def routed(platform: Platform, network: str, app: str, path: str = "/") -> httpx.Response:
    """A request to the app through the platform's router, by Host header."""
    return httpx.get(
        f"http://127.0.0.1:{platform.port}{path}",
        headers={"Host": f"{app}.{network}.localhost:{platform.port}"},
        timeout=10,
        trust_env=False,
    )


def wait_for(condition: Callable[[], object], timeout: float = 15, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.05)


def new_api(platform: Platform) -> Api:
    user = platform.add_user(f"user-{uuid.uuid4().hex[:10]}@example.com")
    return Api(platform, user["token"])


EVERY_RUNTIME = pytest.mark.parametrize("runtime", names(), indirect=True, scope="module")
"""A module marked with it runs each of its tests on every registered runtime driver, with one
platform per runtime (``shared_platform``); unmarked modules run on the default one."""


@pytest.fixture(scope="module")
def runtime(request: pytest.FixtureRequest) -> str:
    """The runtime driver the module's platform runs (``EVERY_RUNTIME``). ``swarm`` needs the
    engine: tests/support/docker.py skips with the reason outside CI and fails under CI."""
    name = str(getattr(request, "param", DEFAULT_RUNTIME))
    if name == "swarm":
        request.getfixturevalue("docker_client")
    return name


@pytest.fixture(scope="module")
def shared_platform(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One platform for a module whose tests keep apart with their own users and networks."""
    factory = PlatformFactory(tmp_path_factory.mktemp(f"deploy-{runtime}"))
    yield factory(max_upload_bytes=UPLOAD_LIMIT, health_timeout=HEALTH_TIMEOUT, runtime=runtime)
    factory.stop_all()


@pytest.fixture
def api(shared_platform: Platform) -> Iterator[Api]:
    client = new_api(shared_platform)
    yield client
    client.http.close()
