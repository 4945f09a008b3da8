"""The route table re-verifies serving apps: a listener that joins an app's verified port
later (``SO_REUSEPORT``, possible under the same uid, so without the sandbox) loses the app its
route within a check or two, and the owner's log says why; once it is gone the route is back."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.deploy.conftest import PY, Api, archive
from tests.router.conftest import APP_SOURCE
from tests.support.platform import Platform, PlatformFactory

CHECKS_S = 1.5  # three re-verifications (every 0.5 s)


@pytest.fixture(scope="module")
def shared_port_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, Api]]:
    factory = PlatformFactory(tmp_path_factory.mktemp("reverify"))
    platform = factory(isolation="none", health_timeout=150)
    user = platform.add_login(f"reverify-{uuid.uuid4().hex[:8]}@example.com")
    session = httpx.post(f"{platform.url}/api/v1/auth/login", json=user, trust_env=False)
    api = Api(platform, session.json()["access_token"])
    yield platform, api
    api.http.close()
    factory.stop_all()


def test_a_listener_joining_a_verified_port_is_never_served_for_long(
    shared_port_app: tuple[Platform, Api],
) -> None:
    platform, api = shared_port_app
    network, app = api.new_app("shared")
    source = archive({"app.py": APP_SOURCE, "Procfile": f"web: REUSEPORT=1 {PY} app.py\n"})
    assert api.deploy(network, app, source, timeout=150)["status"] == "active"
    host = f"{app}.{network}.localhost:{platform.port}"

    def visit() -> httpx.Response:
        return httpx.get(
            f"http://127.0.0.1:{platform.port}/hello", headers={"Host": host}, trust_env=False
        )

    port = int(visit().text.split()[2])
    intruder = socket.socket()
    intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    intruder.bind(("127.0.0.1", port))
    intruder.listen()
    try:
        time.sleep(CHECKS_S)
        answers = {visit().status_code for _ in range(10)}
        assert answers == {503}, answers
        notes = [r["line"] for r in api.logs(network, app) if r.get("stream") == "platform"]
        why = "router: not forwarding visitors"
        assert any(why in n and "not the app's own" in n for n in notes), notes
    finally:
        intruder.close()
    deadline = time.monotonic() + 10
    while visit().status_code != 200:
        assert time.monotonic() < deadline, "the route did not come back"
        time.sleep(0.1)
