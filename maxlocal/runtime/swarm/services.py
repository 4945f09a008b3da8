"""An app is a Swarm service: its release's image, N replicas, limits, health check, restart
policy, and one published port per task.

Ports: each task publishes the app's port in **host mode with no fixed published port**, so the
engine binds a free port per task, on the address dockerd's ``--ip`` gives (scripts/docker-up:
``127.0.0.1``), and reports it in the task's status. The router's contract stays the process
runtime's: one loopback address per instance (``upstreams``). Not the routing mesh: it binds
every interface, and needs IPVS in the kernel (absent on our machines); a router that already
balances over instances gains nothing from a second balancer.

Deploys are rolling updates, one task at a time, ``start-first``: a new task starts beside the
old one and the old one is stopped only when the new one is healthy (with a health check, a
task is ``running`` only once its check passed). The router keeps requests flowing by
forwarding to ``upstreams`` as they are now, retrying a refused connection on the next one.
Rollback is an update to an older release's image and env secret (the platform's snapshot, not
Swarm's one-step ``PreviousSpec``). Reconcile is ``managed``: the services found by label.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from maxlocal.runtime.swarm import variables
from maxlocal.runtime.swarm.engine import APP, MANAGED, NETWORK, PROCESS, RELEASE, EngineError
from maxlocal.runtime.swarm.launch import ENV_FILE

if TYPE_CHECKING:
    import docker

NS = 1_000_000_000
HOST = "127.0.0.1"
OUT_OF_SEQUENCE = "update out of sequence"
"""The engine's refusal of an update made against a version of the service it no longer has."""
UPDATE_ATTEMPTS = 5
"""Reads and writes of one update before its conflict is the caller's: the engine's own writes
come a few per rolling update, seconds apart."""


@dataclass(frozen=True)
class Limits:
    memory: int | None = None  # bytes
    pids: int | None = None
    cpus: float | None = None  # cores


@dataclass(frozen=True)
class Health:
    """An HTTP GET of ``path`` on the app's port, from inside the task (python3 is in the
    base image): any 2xx/3xx answer within ``timeout_s`` is healthy. ``path=None``: a TCP
    connect that is accepted is healthy (the process runtime's check, which the platform's
    driver uses so that an app is healthy on the same terms on either runtime)."""

    path: str | None = "/"
    interval_s: float = 1.0
    timeout_s: float = 2.0
    retries: int = 3
    start_period_s: float = 30.0
    command: tuple[str, ...] | None = None
    """A probe of its own (the check's ``CMD``) in place of the python3 one: an image from a
    registry may have no python3 (``imagedeploy.health_command``)."""


@dataclass(frozen=True)
class AppSpec:
    """Everything a deploy of one release of one app says to the engine."""

    app: str
    network: str
    release: str
    image: str
    command: Sequence[str]
    uid: int
    replicas: int = 1
    port: int = 8000
    variables: dict[str, str] = field(default_factory=dict)
    limits: Limits = Limits()
    health: Health | None = None
    stop_grace_s: float = 10.0
    relay: int | None = None
    """Publish this port instead of ``port``, relayed by the launcher to ``127.0.0.1:port``
    inside the task (``launch.relay``): for apps that listen on loopback only."""
    process: str = "web"
    """The process type it runs: only ``web`` publishes a port (the others serve nobody)."""


@dataclass(frozen=True)
class Instance:
    """One running task: what the router forwards to and logs/exec name."""

    slot: int
    task_id: str
    container_id: str
    release: str
    address: str  # host:port on loopback
    state: str


def service_name(app: str) -> str:
    return app


def deploy(client: docker.DockerClient, spec: AppSpec) -> str:
    """Create the app's service, or roll it to ``spec`` (a new release, a rollback to an
    older one, new variables, limits or replicas). Returns the service id."""
    import docker.errors

    secret_id, secret = variables.ensure(client, spec.app, spec.variables)
    body = _body(spec, secret_id, secret)
    try:
        return update(client, spec.app, lambda current: body)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        raise EngineError(f"cannot update the service of {spec.app}: {exc.explanation}") from exc
    try:
        made = client.api.create_service(**body)
    except docker.errors.APIError as exc:
        raise EngineError(f"cannot create the service of {spec.app}: {exc.explanation}") from exc
    return str(made["ID"])


def update(
    client: docker.DockerClient, app: str, body_of: Callable[[dict[str, Any]], dict[str, Any]]
) -> str:
    """Update the service to ``body_of(its inspect)``; returns its id. An update names the
    version it read and the engine refuses it once that is not the newest ("update out of
    sequence"), and the engine writes the service itself: a rolling update's state
    (``updating``, then ``completed`` one monitor period after its last task). So a deploy
    or rollback that follows the previous one within seconds races the engine's own write;
    the answer to the conflict is to read again and write again (``UPDATE_ATTEMPTS``)."""
    import docker.errors

    attempts = 1
    while True:
        current = client.api.inspect_service(service_name(app))
        try:
            version = current["Version"]["Index"]
            client.api.update_service(current["ID"], version, **body_of(current))
            return str(current["ID"])
        except docker.errors.APIError as exc:
            if OUT_OF_SEQUENCE not in str(exc.explanation) or attempts == UPDATE_ATTEMPTS:
                raise
        attempts += 1


def scale(client: docker.DockerClient, app: str, replicas: int) -> None:
    """Set the number of instances, nothing else changed (no rolling update). ``rig stop``
    is a scale to 0, ``rig start`` back to the platform's recorded count."""
    _respec(client, app, lambda spec: spec.update(Mode={"Replicated": {"Replicas": replicas}}))


def restart(client: docker.DockerClient, app: str) -> None:
    """Replace every task with a new one of the same spec, one at a time, start-first (the
    update's own order): ``rig restart`` without a gap."""

    def force(spec: dict[str, Any]) -> None:
        template = spec["TaskTemplate"]
        template["ForceUpdate"] = int(template.get("ForceUpdate", 0)) + 1

    _respec(client, app, force)


def _respec(
    client: docker.DockerClient, app: str, change: Callable[[dict[str, Any]], object]
) -> None:
    """Update the service with its current spec changed by ``change``."""

    def changed(current: dict[str, Any]) -> dict[str, Any]:
        spec = current["Spec"]
        change(spec)
        return _spec_body(spec)

    update(client, app, changed)


def revert(client: docker.DockerClient, app: str) -> None:
    """Put the service back to its spec before its last update (the undo of a failed start:
    only of an update that this start made, or it goes back one release too far)."""
    update(client, app, lambda current: _spec_body(current["PreviousSpec"]))


def _spec_body(spec: dict[str, Any]) -> dict[str, Any]:
    """The arguments of ``update_service`` that say ``spec`` (a ``Spec`` or ``PreviousSpec``
    as the engine's inspect has it) again."""
    return {
        "task_template": spec["TaskTemplate"],
        "name": spec["Name"],
        "labels": spec.get("Labels"),
        "mode": spec["Mode"],
        "update_config": spec.get("UpdateConfig"),
        "endpoint_spec": spec.get("EndpointSpec"),
    }


def remove(client: docker.DockerClient, app: str) -> None:
    """Remove the app's service (its tasks stop), then its env secrets."""
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        client.api.remove_service(service_name(app))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not client.api.containers(all=True, filters={"label": f"{APP}={app}"}):
            break
        time.sleep(0.2)
    variables.prune(client, app, keep=set())


def managed(client: docker.DockerClient) -> dict[str, str]:
    """Reconcile: {app: release} of every service the platform made, as the engine has them
    (the engine is the source of truth for what runs)."""
    found = {}
    for service in client.api.services(filters={"label": f"{MANAGED}=app"}):
        labels = service["Spec"].get("Labels", {})
        found[labels[APP]] = labels.get(RELEASE, "")
    return found


def instances(client: docker.DockerClient, app: str) -> list[Instance]:
    """The app's tasks that run now (desired and actual state ``running``), by slot."""
    tasks = _tasks(client, app, **{"desired-state": "running"})
    found = []
    for task in tasks:
        status = task.get("Status", {})
        if status.get("State") != "running":
            continue
        ports = status.get("PortStatus", {}).get("Ports", [])
        labels = task["Spec"]["ContainerSpec"].get("Labels", {})
        if not ports and labels.get(PROCESS, "web") == "web":
            continue  # a web task is an instance once its port is published
        found.append(
            Instance(
                slot=int(task.get("Slot", 0)),
                task_id=task["ID"],
                container_id=status.get("ContainerStatus", {}).get("ContainerID", ""),
                release=labels.get(RELEASE, ""),
                address=f"{HOST}:{ports[0]['PublishedPort']}" if ports else "",
                state=status["State"],
            )
        )
    return sorted(found, key=lambda i: i.slot)


def upstreams(client: docker.DockerClient, app: str) -> list[str]:
    """The loopback addresses the router forwards to, one per running instance."""
    return [instance.address for instance in instances(client, app)]


def wait_converged(
    client: docker.DockerClient,
    app: str,
    release: str,
    replicas: int,
    timeout: float = 120.0,
    *,
    replacing: Collection[str] = (),
    give_up_after: int | None = None,
    earlier: Collection[str] = (),
) -> list[Instance]:
    """Wait until exactly ``replicas`` instances of ``release`` run (healthy, when the app
    has a check), no other release's and none of the tasks ``replacing`` names (a restart:
    same release, new tasks); EngineError naming the last task error if not. With
    ``give_up_after``, that many failed tasks of ``release`` end the wait early (an app that
    exits at once is not retried for the whole ``timeout``; a task the engine could not start
    is not counted: its restart policy retries it), not counting the tasks ``earlier`` names:
    those of before this wait's update (``task_ids``), which the engine keeps in the
    service's history. A scale or restart runs the same release again, and a crash of it
    that the engine replaced long before is no failure of the new tasks."""
    deadline = time.monotonic() + timeout
    while True:
        running = instances(client, app)
        if (
            len(running) == replicas
            and all(i.release == release for i in running)
            and not {i.task_id for i in running} & set(replacing)
        ):
            return running
        failed = (
            sum(exit_code(t) is not None for t in failed_tasks(client, app, release, earlier))
            if give_up_after
            else 0
        )
        if time.monotonic() > deadline or (give_up_after and failed >= give_up_after):
            raise EngineError(
                f"{app} did not reach {replicas} running instance(s) of release {release} "
                f"in {timeout:.0f} s: {last_error(client, app) or 'no task error'}"
            )
        time.sleep(0.2)


def failed_tasks(
    client: docker.DockerClient, app: str, release: str, earlier: Collection[str] = ()
) -> list[dict[str, Any]]:
    """The app's tasks of ``release`` that failed (exited, rejected, unhealthy), newest first;
    none of those ``earlier`` names."""
    found = [
        task
        for task in _tasks(client, app)
        if task["Spec"]["ContainerSpec"].get("Labels", {}).get(RELEASE) == release
        and task["ID"] not in earlier
        and task.get("Status", {}).get("State") in ("failed", "rejected")
    ]
    return sorted(found, key=lambda t: t.get("UpdatedAt", ""), reverse=True)


def task_ids(client: docker.DockerClient, app: str) -> set[str]:
    """Every task the engine has of the service now, in any state (its history too)."""
    return {task["ID"] for task in _tasks(client, app)}


def exit_code(task: dict[str, Any]) -> int | None:
    """The exit code of a task whose app exited (None: the task failed otherwise, e.g. its
    container could not start, which the engine's restart policy retries)."""
    status = task.get("Status", {})
    code = status.get("ContainerStatus", {}).get("ExitCode")
    exited = str(status.get("Err", "")).startswith("task: non-zero exit")
    return int(code) if exited and code is not None else None


def last_error(client: docker.DockerClient, app: str) -> str:
    """The newest task error of the app (image missing, container exited...), or ''."""
    tasks = _tasks(client, app)
    tasks.sort(key=lambda t: t.get("UpdatedAt", ""), reverse=True)
    for task in tasks:
        status = task.get("Status", {})
        if status.get("Err"):
            return f"task {task.get('Slot', '?')}: {status['Err']}"
    return ""


def _tasks(client: docker.DockerClient, app: str, **filters: str) -> list[dict[str, Any]]:
    """The service's tasks (none when it does not exist, or no longer)."""
    import docker.errors

    try:
        found = client.api.tasks(filters={"service": service_name(app), **filters})
    except docker.errors.NotFound:
        return []
    return list(found)


def _body(spec: AppSpec, secret_id: str, secret: str) -> dict[str, Any]:
    import docker.types

    labels = {
        MANAGED: "app",
        APP: spec.app,
        NETWORK: spec.network,
        RELEASE: spec.release,
        PROCESS: spec.process,
    }
    container = docker.types.ContainerSpec(
        image=spec.image,
        args=[*(("--relay", str(spec.relay)) if spec.relay else ()), *spec.command],
        env={"PORT": str(spec.port), "MAX_INSTANCE": spec.process + ".{{.Task.Slot}}"},
        labels=labels,
        user=f"{spec.uid}:{spec.uid}",
        secrets=[
            docker.types.SecretReference(
                secret_id,
                secret,
                filename=ENV_FILE.rsplit("/", 1)[-1],
                uid=str(spec.uid),
                gid=str(spec.uid),
                mode=0o400,
            )
        ],
        healthcheck=_healthcheck(spec.health, spec.port),
        stop_grace_period=int(spec.stop_grace_s * NS),
        init=True,
    )
    resources = docker.types.Resources(
        cpu_limit=int(spec.limits.cpus * NS) if spec.limits.cpus else None,
        mem_limit=spec.limits.memory,
    )
    if spec.limits.pids:
        resources.setdefault("Limits", {})["Pids"] = spec.limits.pids
    template = docker.types.TaskTemplate(
        container_spec=container,
        resources=resources,
        restart_policy=docker.types.RestartPolicy(condition="any", delay=NS // 2),
    )
    return {
        "task_template": template,
        "name": service_name(spec.app),
        "labels": labels,
        "mode": docker.types.ServiceMode("replicated", replicas=spec.replicas),
        "update_config": docker.types.UpdateConfig(
            parallelism=1, order="start-first", failure_action="pause", monitor=NS
        ),
        "endpoint_spec": {
            "Mode": "vip",
            "Ports": [
                {"Protocol": "tcp", "TargetPort": spec.relay or spec.port, "PublishMode": "host"}
            ]
            if spec.process == "web"
            else [],
        },
    }


def _healthcheck(health: Health | None, port: int) -> Any:
    import docker.types

    if health is None:
        return None
    if health.path is None:
        probe = f"import socket;socket.create_connection(('127.0.0.1',{port}),{health.timeout_s})"
    else:
        probe = (
            "import sys,urllib.request;"
            f"urllib.request.urlopen('http://127.0.0.1:{port}{health.path}',"
            f"timeout={health.timeout_s})"
        )
    test = ["CMD", *health.command] if health.command else ["CMD", "python3", "-c", probe]
    return docker.types.Healthcheck(
        test=test,
        interval=int(health.interval_s * NS),
        timeout=int(health.timeout_s * NS),
        retries=health.retries,
        start_period=int(health.start_period_s * NS),
    )
