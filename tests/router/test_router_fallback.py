"""Without the edge (``--router in-process``, as on a machine without HAProxy) the platform
still routes, says which router serves, and keeps the same refusals and the same answer."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.router.conftest import raw_exchange
from tests.support.cli import Rig
from tests.support.platform import Platform, PlatformFactory


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    factory = PlatformFactory(tmp_path_factory.mktemp("in-process"))
    yield factory(router="in-process")
    factory.stop_all()


def test_the_in_process_router_is_reported(in_process: Platform, tmp_path: Path) -> None:
    health = httpx.get(f"{in_process.url}/api/v1/health", trust_env=False).json()
    assert health["router"] == {"mode": "in-process", "detail": "asked for (--router in-process)"}
    rig = Rig(tmp_path / "config")
    status = rig.ok("local", "status", "--data", str(in_process.data_dir), "-o", "json").json()
    assert status["router"].startswith("in-process — slower, no WebSockets")


def test_it_refuses_steering_targets_and_answers_strangers_alike(in_process: Platform) -> None:
    host = f"ghost.nowhere.localhost:{in_process.port}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for target in (f"@127.0.0.1:{port}/x", f"http://127.0.0.1:{port}/x"):
        request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        answer = raw_exchange(in_process.port, request.encode())
        assert answer.startswith(b"HTTP/1.1 400"), (target, answer)
    response = httpx.get(
        f"http://127.0.0.1:{in_process.port}/", headers={"Host": host}, trust_env=False
    )
    assert response.status_code == 503
    assert response.text == (
        "No app is serving at ghost.nowhere.localhost.\n"
        "If it is yours, see why with: rig status app ghost --network nowhere\n"
    )
