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


def test_metrics_count_and_time_routed_requests(served: Served) -> None:
    """``/metrics``: each routed request counted, and its duration in the app's histogram."""
    from prometheus_client.parser import text_string_to_metric_families

    labels = {"network": served.network, "app": served.app}

    def samples() -> dict[str, float]:
        text = httpx.get(
            f"{served.platform.url}/metrics", headers=dict(served.api.http.headers), trust_env=False
        ).text
        return {
            s.name + s.labels.get("le", ""): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if {k: v for k, v in s.labels.items() if k != "le"} == labels
        }

    before = samples()
    assert visit(served, "/sse").status_code == 200  # five events a second apart: ~4 s
    assert visit(served, "/hello").status_code == 200
    deadline = time.monotonic() + 15
    while (after := samples())["maxlocal_app_requests_total"] < before[
        "maxlocal_app_requests_total"
    ] + 2:
        assert time.monotonic() < deadline, after
        time.sleep(0.2)
    count = "maxlocal_app_request_duration_seconds_count"
    assert after[count] == after["maxlocal_app_requests_total"]
    assert after[count] - before[count] >= 2
    bucket = "maxlocal_app_request_duration_seconds_bucket"
    # the slow stream is past 2.5 s, the hello well under it
    assert (
        after[f"{bucket}+Inf"] - after[f"{bucket}2.5"]
        >= before[f"{bucket}+Inf"] - before[f"{bucket}2.5"] + 1
    )
    assert after[f"{bucket}0.25"] > before[f"{bucket}0.25"]
    assert after["maxlocal_app_request_duration_seconds_sum"] >= 4
