"""The swarm runtime driver through a real platform (``maxlocal serve --runtime swarm``): the
engine restarts a killed task and ``rig logs -f`` goes on without a gap; a platform restart
adopts the running services (same tasks, same containers, no line read twice)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maxlocal.runtime.swarm import engine, services
from tests.deploy.conftest import HEALTH_TIMEOUT, Api, archive, new_api, routed, wait_for
from tests.runtime_driver.conftest import rig_for
from tests.support.platform import Platform, PlatformFactory

pytestmark = [pytest.mark.swarm, pytest.mark.slow]

TICKER = """\
import http.server, itertools, os, sys, threading, time

def tick():
    for n in itertools.count():
        sys.stdout.write(f"tick {n}\\n")
        sys.stdout.flush()
        time.sleep(0.05)

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\\n")

threading.Thread(target=tick, daemon=True).start()
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""
STEP = 120.0


@pytest.fixture(scope="module")
def swarm_platform(
    docker_client: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    factory = PlatformFactory(tmp_path_factory.mktemp("swarm-driver"))
    yield factory(runtime="swarm", health_timeout=HEALTH_TIMEOUT)
    factory.stop_all()


def deploy_ticker(api: Api) -> tuple[str, str]:
    network, app = api.new_app()
    source = archive({"app.py": TICKER, "Procfile": "web: python3 -u app.py\n"})
    release = api.deploy(network, app, source, timeout=STEP)
    assert release["status"] == "active", release
    return network, app


def tasks(client: Any, network: str) -> list[services.Instance]:
    """The running tasks of the (one) service of ``network``, as the engine lists them."""
    [service] = client.services.list(filters={"label": f"{engine.NETWORK}={network}"})
    return services.instances(client, service.name)


def ticks(records: list[dict[str, Any]]) -> list[int]:
    return [int(r["line"].split()[1]) for r in records if r["line"].startswith("tick ")]


def runs(numbers: list[int]) -> list[list[int]]:
    """The numbers cut where they start again at 0 (one run per container)."""
    cut: list[list[int]] = []
    for n in numbers:
        if n == 0 or not cut:
            cut.append([])
        cut[-1].append(n)
    return cut


def test_a_killed_task_is_restarted_by_the_engine_and_the_follow_has_no_gap(
    swarm_platform: Platform, docker_client: Any, tmp_path: Path
) -> None:
    api = new_api(swarm_platform)
    network, app = deploy_ticker(api)
    [first] = tasks(docker_client, network)
    follow = rig_for(api, tmp_path).popen(
        "logs", "app", app, "--network", network, "-f", "-o", "json", "--grep", "^tick "
    )
    seen: list[dict[str, Any]] = []
    reader = threading.Thread(target=_read, args=(follow, seen), daemon=True)
    reader.start()
    try:
        wait_for(lambda: len(ticks(seen)) > 5, 30, "the first ticks")

        docker_client.api.kill(first.container_id)

        def restarted() -> bool:
            now = tasks(docker_client, network)
            return bool(now) and now[0].container_id != first.container_id

        wait_for(restarted, STEP, "the engine to restart the task")
        wait_for(lambda: len(runs(ticks(seen))) == 2 and len(runs(ticks(seen))[1]) > 5, 30, "")
    finally:
        follow.kill()
        follow.communicate()
    before, after = runs(ticks(seen))
    logged = docker_client.api.logs(first.container_id, stdout=True, stderr=False).decode()
    numbers = [int(line.split()[1]) for line in logged.splitlines()]
    assert len(before) > 5 and before == numbers[-len(before) :]  # up to its last, none lost
    assert after == list(range(len(after)))  # the new task's from its first
    assert {r["instance"] for r in seen} == {"web.1"}
    assert [r["seq"] for r in seen] == sorted(r["seq"] for r in seen)
    # the route table reads the new task's port at its next check (every 0.5 s)
    wait_for(lambda: routed(swarm_platform, network, app).text == "ok\n", 10, "routed again")


def test_a_platform_restart_adopts_the_running_services_untouched(
    docker_client: Any, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    factory = PlatformFactory(tmp_path_factory.mktemp("swarm-restart"))
    try:
        platform = factory(runtime="swarm", health_timeout=HEALTH_TIMEOUT)
        api = Api(platform, platform.add_user("restart@example.com")["token"])
        network, app = deploy_ticker(api)
        api.http.post(f"/networks/{network}/apps/{app}/scale", json={"instances": 2})
        wait_for(lambda: len(tasks(docker_client, network)) == 2, STEP, "two tasks")
        before = [(t.task_id, t.container_id) for t in tasks(docker_client, network)]

        platform.restart()

        wait_for(lambda: api.status(network, app)["state"] == "running", STEP, "adopted")
        assert [(t.task_id, t.container_id) for t in tasks(docker_client, network)] == before
        status = api.status(network, app)
        assert (status["release"], len(status["instances"])) == (1, 2)
        assert routed(platform, network, app).text == "ok\n"
        wait_for(lambda: len(api.logs(network, app)) > 0, 30, "lines after the restart")
        for instance in ("web.1", "web.2"):  # read on from where the store ended: no repeats
            numbers = ticks([r for r in api.logs(network, app) if r["instance"] == instance])
            assert numbers == sorted(set(numbers)), instance
        releases = api.http.get(f"/networks/{network}/apps/{app}/releases").json()
        assert [r["number"] for r in releases] == [1]
    finally:
        factory.stop_all()


def test_a_rollback_and_a_restart_run_the_image_of_the_build_they_reuse(
    swarm_platform: Platform, docker_client: Any, tmp_path: Path
) -> None:
    api = new_api(swarm_platform)
    network, app = deploy_ticker(api)
    again = archive({"app.py": TICKER + "# v2\n", "Procfile": "web: python3 -u app.py\n"})
    assert api.deploy(network, app, again, timeout=STEP)["status"] == "active"
    rig = rig_for(api, tmp_path)
    rig.ok("rollback", "--app", app, "--network", network)
    rig.ok("restart", "app", app, "--network", network)

    [service] = docker_client.services.list(filters={"label": f"{engine.NETWORK}={network}"})
    image = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image.split("@")[0] == f"{service.name}:b1"  # release 3 (rollback) runs build 1
    built = docker_client.images.list(filters={"label": f"{engine.APP}={service.name}"})
    assert sorted(t for i in built for t in i.tags) == [f"{service.name}:b{n}" for n in (1, 2)]
    assert api.status(network, app)["release"] == 3


def test_each_process_type_is_a_service_of_its_own(
    swarm_platform: Platform, docker_client: Any, tmp_path: Path
) -> None:
    api = new_api(swarm_platform)
    network, app = api.new_app()
    worker = "worker: python3 -u -c 'import time; print(\"worker up\"); time.sleep(600)'\n"
    procfile = "web: python3 -u app.py\n" + worker
    release = api.deploy(network, app, archive({"app.py": TICKER, "Procfile": procfile}))
    assert release["status"] == "active", release
    mine = {"label": f"{engine.NETWORK}={network}"}
    kinds = {
        s.attrs["Spec"]["Labels"][engine.PROCESS] for s in docker_client.services.list(filters=mine)
    }
    assert kinds == {"web", "worker"}
    instances = {i["name"]: i for i in api.status(network, app)["instances"]}
    assert set(instances) == {"web.1", "worker.1"} and instances["worker.1"]["port"] is None
    wait_for(lambda: any(r["line"] == "worker up" for r in api.logs(network, app)), 30, "worker")
    line = next(r for r in api.logs(network, app) if r["line"] == "worker up")
    assert (line["process"], line["instance"]) == ("worker", "worker.1")
    assert routed(swarm_platform, network, app).text == "ok\n"

    rig = rig_for(api, tmp_path)
    rig.ok("stop", "app", app, "--network", network)
    assert all(
        not tasks_of(docker_client, s.name) for s in docker_client.services.list(filters=mine)
    )
    rig.ok("start", "app", app, "--network", network)
    assert {i["name"] for i in api.status(network, app)["instances"]} == {"web.1", "worker.1"}

    web_only = archive({"app.py": TICKER, "Procfile": "web: python3 -u app.py\n"})
    assert api.deploy(network, app, web_only, timeout=STEP)["status"] == "active"
    [left] = docker_client.services.list(filters=mine)
    assert left.attrs["Spec"]["Labels"][engine.PROCESS] == "web"
    assert {i["name"] for i in api.status(network, app)["instances"]} == {"web.1"}


def tasks_of(client: Any, name: str) -> list[services.Instance]:
    return services.instances(client, name)


def _read(follow: subprocess.Popen[str], into: list[dict[str, Any]]) -> None:
    assert follow.stdout is not None
    for line in follow.stdout:
        into.append(json.loads(line))


def test_a_crash_the_engine_restarted_is_not_counted_against_a_later_scale_or_restart(
    swarm_platform: Platform, docker_client: Any
) -> None:
    """A start gives up at its release's first failed task (an app that exits at once), but
    the engine keeps a task's history: the task that crashed before the start (here: killed,
    exit 137, and replaced by the engine) is not this start's failure."""
    api = new_api(swarm_platform)
    network, app = deploy_ticker(api)
    [first] = tasks(docker_client, network)
    docker_client.api.kill(first.container_id)

    def restarted() -> bool:
        now = tasks(docker_client, network)
        return bool(now) and now[0].container_id != first.container_id

    wait_for(restarted, STEP, "the engine to restart the task")
    [replaced] = tasks(docker_client, network)

    scaled = api.http.post(
        f"/networks/{network}/apps/{app}/scale", json={"instances": 2}, timeout=STEP
    )
    assert scaled.status_code == 200, scaled.text
    assert len(tasks(docker_client, network)) == 2
    restart = api.http.post(f"/networks/{network}/apps/{app}/restart", timeout=STEP)
    assert restart.status_code == 200, restart.text
    now = tasks(docker_client, network)
    assert len(now) == 2 and replaced.task_id not in {t.task_id for t in now}
    notes = [r["line"] for r in api.logs(network, app) if "did not start" in r["line"]]
    assert not notes
