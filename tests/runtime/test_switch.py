"""Supervisor and router together: a release switch never drops a request."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from maxlocal.runtime.router import HostRouter, Unavailable
from maxlocal.runtime.supervisor import LocalProcessDriver, State
from tests.support.runtime import gone, make_release, serve_asgi


async def platform_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_requests_keep_being_answered_through_a_switch(
    tmp_path: Path, driver: LocalProcessDriver
) -> None:
    def resolve(network: str, app: str) -> int | Unavailable:
        key = f"{network}/{app}"
        port = driver.port(key)
        if port is not None:
            return port
        if driver.status(key).state == State.STOPPED:
            return Unavailable.stopped(app, network)
        return Unavailable.not_deployed(app, network)

    router = HostRouter(platform_app, resolve)
    answers: list[tuple[int, str]] = []
    done = threading.Event()

    with serve_asgi(router) as port:
        url = f"http://127.0.0.1:{port}/"
        headers = {"Host": f"api.shop.localhost:{port}"}

        def hammer() -> None:
            with httpx.Client(trust_env=False, timeout=5) as client:
                while not done.is_set():
                    response = client.get(url, headers=headers)
                    answers.append((response.status_code, response.text))

        assert httpx.get(url, headers=headers, trust_env=False).status_code == 503
        old = driver.start(make_release(tmp_path, 1))
        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            while len(answers) < 20:
                time.sleep(0.01)
            driver.start(make_release(tmp_path, 2))
            count = len(answers)
            while len(answers) < count + 20:
                time.sleep(0.01)
            retired = time.monotonic() + 30  # the old release drained and stopped
            while not gone(old.pids["web"]):
                assert time.monotonic() < retired, "the old release is still running"
                time.sleep(0.01)
            after_retire = len(answers)
            while len(answers) < after_retire + 20:
                time.sleep(0.01)
        finally:
            done.set()
            thread.join()

        driver.stop("shop/api")
        stopped = httpx.get(url, headers=headers, trust_env=False)

    assert {status for status, _ in answers} == {200}
    bodies = [text for _, text in answers]
    first_v2 = bodies.index("v2\n")
    assert set(bodies[:first_v2]) == {"v1\n"} and set(bodies[first_v2:]) == {"v2\n"}
    assert stopped.status_code == 503 and "No app is serving at" in stopped.text
    assert router.served[("shop", "api")] == len(answers)
