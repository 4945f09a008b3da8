"""What every runtime driver must do, through a real platform and the real ``rig``: deploy,
scale, roll back, logs followed across a rollout, exec with its exit code, and a platform
restart reconciled with what the engine runs; stop, start and restart. Each test runs once per
registered driver."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx

from tests.deploy.conftest import HEALTH_TIMEOUT, Api, routed, wait_for, web_app
from tests.runtime_driver.conftest import rig_for
from tests.support.platform import Platform, PlatformFactory

STEP_TIMEOUT = 120.0  # a wait, not a target: a deploy on a loaded machine


def health(platform: Platform) -> dict[str, Any]:
    response = httpx.get(f"{platform.url}/api/v1/health", timeout=10, trust_env=False)
    assert response.status_code == 200, response.text
    return dict(response.json())


def web_pids(api: Api, network: str, app: str) -> list[int]:
    status = api.status(network, app)
    return sorted(i["pid"] for i in status["instances"] if i["type"] == "web" and i["up"])


def deployed(api: Api, network: str, app: str, version: str) -> int:
    release = api.deploy(network, app, web_app(version), timeout=STEP_TIMEOUT)
    assert release["status"] == "active", release
    return int(release["number"])


def test_driver_deploys_an_app_the_router_serves(driver_name: str, driver_api: Api) -> None:
    platform = driver_api.platform
    assert health(platform)["runtime"]["name"] == driver_name
    network, app = driver_api.new_app()

    deployed(driver_api, network, app, "v1")

    assert routed(platform, network, app).text == "hello from v1\n"
    status = driver_api.status(network, app)
    assert (status["state"], status["release"]) == ("running", 1)
    assert len(web_pids(driver_api, network, app)) == 1


def test_driver_scales_with_the_router_on_every_instance(driver_api: Api, tmp_path: Path) -> None:
    network, app = driver_api.new_app()
    deployed(driver_api, network, app, "v1")
    rig = rig_for(driver_api, tmp_path)

    rig.ok("scale", "app", app, "--network", network, "--instances", "3")

    pids = web_pids(driver_api, network, app)
    assert len(pids) == 3, driver_api.status(network, app)
    instances = {i["name"] for i in driver_api.status(network, app)["instances"]}
    assert instances == {"web.1", "web.2", "web.3"}
    assert all(routed(driver_api.platform, network, app).status_code == 200 for _ in range(6))

    rig.ok("scale", "app", app, "--network", network, "--instances", "1")
    assert len(web_pids(driver_api, network, app)) == 1


def test_driver_stops_starts_and_restarts_an_app(driver_api: Api, tmp_path: Path) -> None:
    network, app = driver_api.new_app()
    deployed(driver_api, network, app, "v1")
    rig = rig_for(driver_api, tmp_path)
    where = (app, "--network", network)
    first = web_pids(driver_api, network, app)

    assert rig.ok("stop", "app", *where, "-o", "json").json()["state"] == "stopped"
    assert routed(driver_api.platform, network, app).status_code == 503
    assert rig.ok("start", "app", *where, "-o", "json").json()["state"] == "running"
    assert routed(driver_api.platform, network, app).text == "hello from v1\n"
    started = web_pids(driver_api, network, app)
    assert rig.ok("restart", "app", *where, "-o", "json").json()["state"] == "running"

    restarted = web_pids(driver_api, network, app)
    assert len(restarted) == 1 and not {*first, *started} & set(restarted)
    assert routed(driver_api.platform, network, app).text == "hello from v1\n"
    assert driver_api.status(network, app)["release"] == 1  # nothing changed: no new release


def test_driver_rolls_back_to_the_earlier_release(driver_api: Api, tmp_path: Path) -> None:
    network, app = driver_api.new_app()
    deployed(driver_api, network, app, "v1")
    deployed(driver_api, network, app, "v2")
    assert routed(driver_api.platform, network, app).text == "hello from v2\n"
    rig = rig_for(driver_api, tmp_path)

    run = rig.ok("rollback", "--app", app, "--network", network, "-o", "json")

    assert run.json()["rolled_back_to"] == 1
    assert routed(driver_api.platform, network, app).text == "hello from v1\n"
    status = driver_api.status(network, app)
    assert (status["state"], status["release"]) == ("running", 3)


def test_driver_logs_follow_the_new_instances_of_a_rollout(driver_api: Api, tmp_path: Path) -> None:
    network, app = driver_api.new_app()
    deployed(driver_api, network, app, "v1")
    rig = rig_for(driver_api, tmp_path)
    follow = rig.popen(
        "logs", "app", app, "--network", network, "-f", "-o", "json", "--grep", "^listening on"
    )
    seen: list[dict[str, Any]] = []
    reader = threading.Thread(target=_read_records, args=(follow, seen), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("version v1" in r["line"] for r in seen), what="v1's line")

        deployed(driver_api, network, app, "v2")

        wait_for(lambda: any("version v2" in r["line"] for r in seen), STEP_TIMEOUT, "v2's line")
    finally:
        follow.kill()
        follow.communicate()
    v2 = next(r for r in seen if "version v2" in r["line"])
    assert (v2["process"], v2["instance"]) == ("web", "web.1"), v2
    assert v2["seq"] > next(r for r in seen if "version v1" in r["line"])["seq"]


def _read_records(follow: subprocess.Popen[str], into: list[dict[str, Any]]) -> None:
    assert follow.stdout is not None
    for line in follow.stdout:
        into.append(json.loads(line))


def test_driver_exec_runs_in_the_release_and_passes_the_exit_code(
    driver_api: Api, tmp_path: Path
) -> None:
    network, app = driver_api.new_app()
    deployed(driver_api, network, app, "v1")
    rig = rig_for(driver_api, tmp_path)
    where = ("--app", app, "--network", network)

    assert rig("command", "exit 3", *where).code == 3
    run = rig("command", "cat VERSION; echo; echo to-err >&2", *where)
    assert (run.code, run.out, run.err) == (0, "v1\n", "to-err\n")


def test_driver_reconciles_with_what_runs_after_a_platform_restart(
    driver_name: str, driver_factory: PlatformFactory
) -> None:
    """A driver whose engine outlives the platform keeps its apps' instances (the same pids);
    one whose instances end with the platform starts the same release again. Either way no
    release is made, a stopped app stays stopped and the router serves the running one."""
    platform = driver_factory(runtime=driver_name, health_timeout=HEALTH_TIMEOUT)
    api = Api(platform, platform.add_user("restart@example.com")["token"])
    network, app = api.new_app()
    deployed(api, network, app, "v1")
    quiet_network, quiet = api.new_app("quiet")
    deployed(api, quiet_network, quiet, "q1")
    assert api.http.post(f"/networks/{quiet_network}/apps/{quiet}/stop").status_code == 200
    before = web_pids(api, network, app)
    outlives = health(platform)["runtime"]["outlives_platform"]

    platform.restart()

    wait_for(lambda: web_pids(api, network, app), STEP_TIMEOUT, "the app to run again")
    after = web_pids(api, network, app)
    assert (after == before) if outlives else not set(after) & set(before), (before, after)
    assert routed(platform, network, app).text == "hello from v1\n"
    status = api.status(network, app)
    assert (status["state"], status["release"]) == ("running", 1)
    releases = api.http.get(f"/networks/{network}/apps/{app}/releases").json()
    assert [r["number"] for r in releases] == [1]
    assert api.status(quiet_network, quiet)["state"] == "stopped"
    assert routed(platform, quiet_network, quiet).status_code == 503
