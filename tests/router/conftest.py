"""A real platform with HAProxy as its edge, and the router test app deployed on it."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.deploy.conftest import PY, Api, archive
from tests.support.cli import Rig
from tests.support.platform import Platform, PlatformFactory

APP_SOURCE = (Path(__file__).parents[2] / "bench" / "router_app.py").read_text()


@dataclass
class Served:
    platform: Platform
    api: Api
    rig: Rig
    network: str
    app: str

    def host(self, app: str | None = None) -> str:
        return f"{app or self.app}.{self.network}.localhost:{self.platform.port}"

    def router_process(self) -> psutil.Process:
        info = json.loads((self.platform.data_dir / "server.json").read_text())
        assert info["router"]["mode"] == "haproxy", info["router"]
        return psutil.Process(int(info["router"]["detail"].rsplit(" ", 1)[1]))

    def app_port(self, app: str | None = None) -> int:
        """The port the app listens on, as it says itself."""
        response = httpx.get(
            f"http://127.0.0.1:{self.platform.port}/hello",
            headers={"Host": self.host(app)},
            trust_env=False,
        )
        return int(response.text.split()[2])


def router_app() -> bytes:
    return archive({"app.py": APP_SOURCE, "Procfile": f"web: {PY} app.py\n"})


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    factory = PlatformFactory(tmp_path_factory.mktemp("router"))
    platform = factory(health_timeout=150, max_upload_bytes=64 * 1024 * 1024)
    user = platform.add_login(f"router-{uuid.uuid4().hex[:8]}@example.com")
    session = httpx.post(f"{platform.url}/api/v1/auth/login", json=user, trust_env=False)
    api = Api(platform, session.json()["access_token"])
    network, app = api.new_app("edge")
    assert api.http.post(f"/networks/{network}/apps", json={"name": "other"}).status_code == 201
    for name in (app, "other"):
        assert api.deploy(network, name, router_app(), timeout=150)["status"] == "active"
    rig = Rig(tmp_path_factory.mktemp("rig-config"))
    rig.login(platform, user["email"], user["password"])
    yield Served(platform, api, rig, network, app)
    api.http.close()
    factory.stop_all()


def raw_exchange(
    port: int, data: bytes, *, until: bytes | None = None, timeout: float = 10
) -> bytes:
    """Send ``data`` on one connection; read until ``until`` has been seen or the peer closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        received = b""
        deadline = time.monotonic() + timeout
        while until is None or until not in received:
            chunk = conn.recv(65536)
            if not chunk or time.monotonic() > deadline:
                break
            received += chunk
        return received
