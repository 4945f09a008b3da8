"""Every routed request is a line in the app's log, stream ``router``: in ``rig logs``,
``-o json`` and ``-f``."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from tests.router.conftest import Served


def visit(served: Served, path: str) -> httpx.Response:
    return httpx.get(
        f"http://127.0.0.1:{served.platform.port}{path}",
        headers={"Host": served.host()},
        trust_env=False,
    )


def router_lines(served: Served, marker: str) -> list[dict[str, object]]:
    run = served.rig.ok(
        "logs", "app", served.app, "--network", served.network, "-o", "json", "--tail", "500"
    )
    records = [json.loads(line) for line in run.out.splitlines() if line.strip()]
    return [r for r in records if r.get("stream") == "router" and marker in str(r.get("line"))]


def test_access_lines_are_in_the_apps_logs_as_json(served: Served) -> None:
    marker = f"/hello?{uuid.uuid4().hex}"
    response = visit(served, marker)
    request_id = response.text.strip().rsplit("id=", 1)[1]
    deadline = time.monotonic() + 15
    while not (lines := router_lines(served, request_id)):
        assert time.monotonic() < deadline, "no access line"
        time.sleep(0.2)
    line = str(lines[0]["line"])
    assert line.startswith("method=GET path=/hello status=200 bytes=")
    assert f"request_id={request_id}" in line and "duration=" in line
    assert marker.split("?")[1] not in line  # the query string is never logged


def test_access_lines_follow_live(served: Served) -> None:
    follow = served.rig.popen("logs", "app", served.app, "--network", served.network, "-f")
    try:
        assert follow.stdout is not None
        time.sleep(2)  # joined
        request_id = visit(served, "/hello").text.strip().rsplit("id=", 1)[1]
        deadline = time.monotonic() + 20
        for line in follow.stdout:
            if request_id in line:
                assert "router" in line and "status=200" in line, line
                break
            assert time.monotonic() < deadline, "the access line did not follow"
    finally:
        follow.terminate()
        follow.wait(10)
