"""Services against the real engine: deploy, limits, isolation properties, variables kept out
of inspect, a zero-downtime rolling update, rollback, scale, reconcile and remove."""

from __future__ import annotations

import json
import threading
import time

import pytest

from maxlocal.runtime.swarm import engine, services, variables
from maxlocal.runtime.swarm import exec as swarm_exec
from maxlocal.runtime.swarm.engine import APP
from tests.swarm.conftest import UID, Releases, Router, get, spec

pytestmark = [pytest.mark.swarm, pytest.mark.slow]


def test_swarm_deploy_runs_replicas_on_loopback_as_the_app_user_with_limits(
    docker_client, releases: Releases, app_name: str
) -> None:
    services.deploy(docker_client, spec(app_name, releases.r1, "r1", replicas=2))
    running = services.wait_converged(docker_client, app_name, "r1", 2)

    assert [i.slot for i in running] == [1, 2]
    for instance in running:
        assert instance.address.startswith("127.0.0.1:")
        assert get(instance.address) == f"r1 {UID} hello"
        container = docker_client.api.inspect_container(instance.container_id)
        host = container["HostConfig"]
        assert (host["Memory"], host["PidsLimit"], host["NanoCpus"]) == (96 << 20, 64, 5 * 10**8)
        bound = [b for ports in container["NetworkSettings"]["Ports"].values() for b in ports]
        assert {b["HostIp"] for b in bound} == {"127.0.0.1"}  # never on another interface
        assert container["Config"]["User"] == f"{UID}:{UID}"
        assert not [m for m in container["Mounts"] if m.get("Type") == "bind"]

    restarted = engine.connect()  # a platform that starts again: the engine says what runs
    try:
        assert services.managed(restarted)[app_name] == "r1"
        assert services.instances(restarted, app_name) == running  # same tasks, not restarted
    finally:
        restarted.close()


def test_swarm_variables_reach_the_app_but_never_inspect(
    docker_client, releases: Releases, app_name: str
) -> None:
    value = "s3cr3t-" + app_name
    services.deploy(docker_client, spec(app_name, releases.r1, "r1", variables={"GREETING": value}))
    (instance,) = services.wait_converged(docker_client, app_name, "r1", 1)

    assert get(instance.address).endswith(value)
    shown = [
        docker_client.api.inspect_service(app_name),
        docker_client.api.inspect_container(instance.container_id),
        docker_client.api.inspect_task(instance.task_id),
        *[s.attrs for s in docker_client.secrets.list(filters={"label": f"{APP}={app_name}"})],
    ]
    assert all(value not in json.dumps(attrs) for attrs in shown)
    name = variables.secret_name(app_name, {"GREETING": value})
    assert name in json.dumps(shown[0])  # attached by name, content unseen


def test_swarm_rolling_update_keeps_serving_then_rolls_back(
    docker_client, releases: Releases, app_name: str
) -> None:
    services.deploy(docker_client, spec(app_name, releases.r1, "r1", replicas=2))
    services.wait_converged(docker_client, app_name, "r1", 2)
    router = Router(docker_client, app_name)
    answers: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                answers.append(router.get())
            except BaseException as exc:  # the test's point: none
                failures.append(exc)
            time.sleep(0.02)

    thread = threading.Thread(target=load)
    thread.start()
    try:
        update = spec(app_name, releases.r2, "r2", replicas=2, variables={"GREETING": "v2"})
        services.deploy(docker_client, update)
        services.wait_converged(docker_client, app_name, "r2", 2)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()

    assert not failures
    assert answers[0] == f"r1 {UID} hello" and answers[-1] == f"r2 {UID} v2"
    assert set(answers) == {f"r1 {UID} hello", f"r2 {UID} v2"}
    print(f"{len(answers)} requests during the update, {router.retries} retried")

    services.deploy(docker_client, spec(app_name, releases.r1, "r1", replicas=2))
    running = services.wait_converged(docker_client, app_name, "r1", 2)
    assert {get(i.address) for i in running} == {f"r1 {UID} hello"}


def test_swarm_scale_restart_and_remove(docker_client, releases: Releases, app_name: str) -> None:
    services.deploy(docker_client, spec(app_name, releases.r1, "r1"))
    services.wait_converged(docker_client, app_name, "r1", 1)
    before = services.instances(docker_client, app_name)[0]

    services.scale(docker_client, app_name, 3)
    running = services.wait_converged(docker_client, app_name, "r1", 3)
    assert before.task_id in {i.task_id for i in running}  # scaling up restarts nothing
    assert len({i.address for i in running}) == 3
    services.scale(docker_client, app_name, 1)
    (kept,) = services.wait_converged(docker_client, app_name, "r1", 1)

    services.restart(docker_client, app_name)
    deadline = time.monotonic() + 60
    while services.instances(docker_client, app_name)[:1] in ([], [kept]):
        assert time.monotonic() < deadline, "restart replaced no task"
        time.sleep(0.2)
    (fresh,) = services.wait_converged(docker_client, app_name, "r1", 1)
    assert fresh.task_id != kept.task_id and get(fresh.address) == f"r1 {UID} hello"

    services.remove(docker_client, app_name)
    assert app_name not in services.managed(docker_client)
    mine = {"label": f"{APP}={app_name}"}
    assert not docker_client.api.containers(all=True, filters=mine)
    assert not docker_client.secrets.list(filters=mine)


def test_swarm_a_task_that_cannot_start_is_said(
    docker_client, releases: Releases, app_name: str
) -> None:
    broken = spec(app_name, releases.r1, "r1", command=["python3", "no-such-file.py"])
    services.deploy(docker_client, broken)
    with pytest.raises(services.EngineError, match=r"did not reach 1 running.*non-zero exit"):
        services.wait_converged(docker_client, app_name, "r1", 1, timeout=12)


def test_swarm_a_task_cannot_reach_another_apps_task(
    docker_client, releases: Releases, app_name: str
) -> None:
    other = app_name + "b"
    try:
        services.deploy(docker_client, spec(app_name, releases.r1, "r1", network="a"))
        services.deploy(docker_client, spec(other, releases.r1, "r1", network="b"))
        (mine,) = services.wait_converged(docker_client, app_name, "r1", 1)
        (theirs,) = services.wait_converged(docker_client, other, "r1", 1)
        private = docker_client.api.inspect_container(theirs.container_id)["NetworkSettings"]
        address = next(iter(private["Networks"].values()))["IPAddress"]
        probe = (
            "import socket,sys\n"
            f"try: socket.create_connection(('{address}', 8000), timeout=2)\n"
            "except OSError as e: sys.exit(f'refused: {e}')\n"
            "print('reached')\n"
        )
        session = swarm_exec.start(docker_client, app_name, ["python3", "-c", probe])
        output = b"".join(data for _, data in session.output()).decode()
        assert session.wait() == 1, output
        assert "refused: timed out" in output
        assert get(theirs.address) == f"r1 {UID} hello"  # the host, as the router, reaches it
        assert get(mine.address) == f"r1 {UID} hello"
    finally:
        services.remove(docker_client, other)
