"""Several instances of an app (`rig scale`): requests are spread over every healthy one, and
none is dropped while the app is scaled, deployed, rolled back, or one instance is killed.

The visitors send idempotent GETs. What the edge retries on another instance: a connection
the dead instance refused, and a GET (or HEAD, OPTIONS, PUT, DELETE) it closed without an
answer. What it cannot retry: a non-idempotent request (a POST) already sent to the instance
that died (the app may have acted on it), a request whose answer had begun, or one with a body
larger than HAProxy's buffer; such a request gets the 502 page."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.deploy.conftest import PY, archive
from tests.router.conftest import APP_SOURCE, Served, router_app

APP = "many"


@dataclass
class Load:
    """Visitors sending requests one after another while the test changes the app."""

    answered: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    """``phase: monotonic-time what``"""
    stop: threading.Event = field(default_factory=threading.Event)
    phase: str = "scale to 3"


def visit(served: Served, client: httpx.Client) -> httpx.Response:
    return client.get(
        f"http://127.0.0.1:{served.platform.port}/hello", headers={"Host": served.host(APP)}
    )


def port_of(response: httpx.Response) -> int:
    return int(response.text.split()[2])


@contextmanager
def load(served: Served) -> Iterator[Load]:
    state = Load()

    def run() -> None:
        with httpx.Client(trust_env=False, timeout=30) as client:
            while not state.stop.is_set():
                try:
                    response = visit(served, client)
                except httpx.HTTPError as exc:
                    state.failures.append(f"{state.phase}: {time.monotonic():.3f} {exc!r}")
                    continue
                if response.status_code != 200:
                    failure = f"{response.status_code} {response.text[:80]}"
                    state.failures.append(f"{state.phase}: {time.monotonic():.3f} {failure}")
                else:
                    state.answered[port_of(response)] += 1

    threads = [threading.Thread(target=run, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        for thread in threads:
            thread.join(30)


def spread(served: Served, requests: int = 30) -> Counter[int]:
    with httpx.Client(trust_env=False, timeout=30) as client:
        return Counter(port_of(visit(served, client)) for _ in range(requests))


def spread_over(served: Served, ports: set[int]) -> None:
    """Requests reach every one of ``ports`` (an instance whose check just missed joins at the
    table's next one, 0.5 s later), and no other."""
    deadline = time.monotonic() + 5
    while (seen := set(spread(served))) != ports:
        assert seen <= ports and time.monotonic() < deadline, (seen, ports, router_log(served))
        time.sleep(0.5)


def router_log(served: Served) -> list[str]:
    """What the platform logged of HAProxy's runtime API (failed server commands)."""
    log = served.platform.log_path
    text = log.read_text() if log.exists() else ""
    return [line for line in text.splitlines() if "runtime API" in line][-10:]


def scale(served: Served, instances: int) -> dict[str, object]:
    run = served.rig.ok(
        "scale", "app", APP, "--network", served.network, "--instances", str(instances),
        "-o", "json",
    )  # fmt: skip
    return dict(json.loads(run.out))


def web_ports(status: dict[str, object]) -> dict[str, int]:
    instances = status["instances"]
    assert isinstance(instances, list)
    return {i["name"]: i["port"] for i in instances if i["type"] == "web" and i["up"]}


def test_scaled_to_three_and_back_dropping_no_request(served: Served) -> None:
    api, network = served.api, served.network
    assert api.http.post(f"/networks/{network}/apps", json={"name": APP}).status_code == 201
    assert api.deploy(network, APP, router_app(), timeout=150)["status"] == "active"

    with load(served) as during:
        status = scale(served, 3)
        ports = web_ports(status)
        assert sorted(ports) == ["web.1", "web.2", "web.3"], status
        assert status["scale"] == 3
        # round-robin: every instance answers its share
        spread_over(served, set(ports.values()))

        # a deploy keeps three instances, switched start-first
        during.phase = "deploy"
        assert api.deploy(network, APP, router_app(), timeout=150)["status"] == "active"
        ports = web_ports(api.status(network, APP))
        assert len(ports) == 3
        spread_over(served, set(ports.values()))

        # a rollback too
        during.phase = "rollback"
        rolled = api.http.post(f"/networks/{network}/apps/{APP}/rollback", json={})
        assert rolled.status_code == 202, rolled.text
        assert api.wait(network, APP, rolled.json()["number"], timeout=150)["status"] == "active"
        ports = web_ports(api.status(network, APP))
        assert len(ports) == 3
        spread_over(served, set(ports.values()))

        # one instance killed: the others serve meanwhile, and it comes back
        during.phase = "kill"
        victim = next(i for i in api.status(network, APP)["instances"] if i["name"] == "web.2")
        os.killpg(victim["pid"], signal.SIGKILL)  # the instance's process group
        killed_at = time.monotonic()
        time.sleep(0.5)
        assert victim["port"] not in spread(served, 20)
        deadline = time.monotonic() + 30
        while len(web_ports(api.status(network, APP))) < 3:
            assert time.monotonic() < deadline, api.status(network, APP)["instances"]
            time.sleep(0.2)
        spread_over(served, set(web_ports(api.status(network, APP)).values()))

        during.phase = "scale to 1"
        status = scale(served, 1)
        assert list(web_ports(status)) == ["web.1"]
        spread_over(served, set(web_ports(status).values()))

    assert during.failures == [], (f"killed at {killed_at:.3f}", during.failures[:3])
    assert sum(during.answered.values()) > 100, during.answered
    instances_in_status_and_logs(served)


def instances_in_status_and_logs(served: Served) -> None:
    """The table and JSON of `rig status` list instances; access lines name one; the kill
    above is noted for the instance killed (part of the test above: xdist may run tests of a
    file on different platforms)."""
    table = served.rig.ok("status", "app", APP, "--network", served.network).out
    assert "web.1" in table, table

    def records(*args: str) -> list[dict[str, object]]:
        run = served.rig.ok("logs", "app", APP, "--network", served.network, "-o", "json", *args)
        return [json.loads(line) for line in run.out.splitlines() if line.strip()]

    routed = [str(r["line"]) for r in records("--tail", "500") if r.get("stream") == "router"]
    assert any("instance=web.1" in line for line in routed), routed[-5:]
    killed = records("--grep", "was killed by signal 9")  # the platform's note of the kill
    assert [(r["process"], r["instance"]) for r in killed] == [("web", "web.2")], killed
    table = served.rig.ok(
        "logs", "app", APP, "--network", served.network, "--grep", "was killed by signal 9"
    ).out
    assert "[web.2]" in table, table


def test_rig_toml_sets_the_count_until_the_app_is_scaled(served: Served) -> None:
    api, network = served.api, served.network
    assert api.http.post(f"/networks/{network}/apps", json={"name": "declared"}).status_code == 201
    toml = f'[processes]\nweb = {{command = "{PY} app.py", instances = 2}}\n'
    source = archive({"app.py": APP_SOURCE, "rig.toml": toml})
    assert api.deploy(network, "declared", source, timeout=150)["status"] == "active"
    status = api.status(network, "declared")
    assert status["scale"] is None
    assert [i["name"] for i in status["instances"]] == ["web.1", "web.2"], status
