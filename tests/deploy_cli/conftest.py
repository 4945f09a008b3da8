"""One platform per module, a logged-in ``rig``, and small apps to deploy."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy.conftest import runtime
from tests.support.cli import Rig
from tests.support.docker import base_image, docker_client
from tests.support.platform import Platform, PlatformFactory

__all__ = ["base_image", "docker_client", "runtime"]

HEALTH_TIMEOUT = 150  # seconds: far beyond any start on a loaded machine

WEB_APP = textwrap.dedent(
    """
    import http.server, os

    VERSION = {version!r}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            greeting = os.environ.get("GREETING", "hello")
            body = f"{{greeting}} from {{VERSION}}\\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            print("served", self.path, flush=True)

    print("listening on", os.environ["PORT"], "version", VERSION, flush=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    server.serve_forever()
    """
)


@pytest.fixture(scope="module")
def deploy_platform(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The module's platform, running ``runtime`` (tests/deploy/conftest.py's ``EVERY_RUNTIME``
    on a module runs it on each)."""
    factory = PlatformFactory(tmp_path_factory.mktemp(f"platform-{runtime}"))
    yield factory(health_timeout=HEALTH_TIMEOUT, runtime=runtime)
    factory.stop_all()


@pytest.fixture(scope="module")
def deployer(deploy_platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Rig:
    """``rig`` logged in to the module's platform as its bootstrap user."""
    rig = Rig(tmp_path_factory.mktemp("rig-config"))
    creds = deploy_platform.bootstrap()
    rig.login(deploy_platform, creds["email"], creds["password"])
    return rig


def write_app(root: Path, version: str, procfile: str = "web: python app.py") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Procfile").write_text(procfile + "\n")
    (root / "app.py").write_text(WEB_APP.format(version=version))
    return root


def fetch(platform: Platform, host: str) -> httpx.Response:
    """A request to an app through the platform's router, by Host header."""
    return httpx.get(
        f"http://127.0.0.1:{platform.port}/",
        headers={"Host": f"{host}:{platform.port}"},
        timeout=5,
    )


def wait_for_body(platform: Platform, host: str, text: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        response = fetch(platform, host)
        body = response.text
        if response.status_code == 200 and text in body:
            return body
        time.sleep(0.1)
    raise AssertionError(f"{host} never answered {text!r}; last answer: {body!r}")
