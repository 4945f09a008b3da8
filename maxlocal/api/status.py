"""Status of apps, of a network's apps, and of everything the caller has."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from maxlocal.api.apps import app_out
from maxlocal.api.deps import PlatformDep, UserDep, find_app, find_network
from maxlocal.api.schemas import AppState
from maxlocal.platform import Platform
from maxlocal.store.apps import App

router = APIRouter(tags=["status"])

Health = Literal["passing", "failing", "unknown"]
FAILING = ("crashed", "failed")


class ProcessOut(BaseModel):
    name: str
    pids: list[int]
    port: int | None


class InstanceOut(BaseModel):
    name: str  # web.2
    type: str  # web
    pid: int | None
    port: int | None
    up: bool  # running and not crashed since (a crashed one is being restarted)


class LimitsOut(BaseModel):
    memory: int | None  # bytes
    processes: int | None
    cpu: float | None  # CPUs
    disk: int | None = None  # bytes the app's home may hold (and the largest file)


class AppStatusOut(BaseModel):
    app: str
    network: str
    state: AppState
    release: int | None
    restarts: int
    started_at: str | None
    uptime_s: float | None
    cpu_percent: float
    memory_rss: int
    health: Health
    url: str
    processes: list[ProcessOut]
    disk_bytes: int  # its builds, artifacts, home and logs
    oom_kills: int  # processes of the running release killed for its memory limit
    last_exit: str | None  # how a process last stopped unasked: "web was killed: out of memory..."
    limits: LimitsOut | None  # what the running release is limited to; None: limits are off
    scale: int | None  # web processes asked for with `rig scale` (None: as rig.toml says, or 1)
    instances: list[InstanceOut]  # every process of the running release, e.g. web.1, web.2


class NetworkStatusOut(BaseModel):
    network: str
    apps: list[AppStatusOut]


class NetworkSummary(BaseModel):
    name: str
    apps: list[AppStatusOut]


class Totals(BaseModel):
    networks: int
    apps: int
    running: int
    failing: int


class DashboardOut(BaseModel):
    networks: list[NetworkSummary]
    totals: Totals


def _health(state: str) -> Health:
    if state == "running":
        return "passing"
    return "failing" if state in FAILING else "unknown"


def app_status(platform: Platform, app: App) -> AppStatusOut:
    fresh = platform.apps.get(app.network_id, app.name) or app
    figures = platform.runtime.status(fresh)
    processes: list[ProcessOut] = []
    if figures is not None and fresh.release is not None:
        release = platform.releases.get(fresh.id, fresh.release)
        for name in (release.processes or {}) if release else {}:
            of_type = [i for i in figures.instances if i["type"] == name]
            pids = [i["pid"] for i in of_type if i["pid"]]
            port = figures.port if name == "web" else None
            processes.append(ProcessOut(name=name, pids=pids, port=port))
    return AppStatusOut(
        app=fresh.name,
        network=fresh.network,
        state=fresh.state,  # type: ignore[arg-type]
        release=fresh.release,
        restarts=figures.restarts if figures else 0,
        started_at=figures.started_at if figures else None,
        uptime_s=figures.uptime_s if figures else None,
        cpu_percent=figures.cpu_percent if figures else 0.0,
        memory_rss=figures.memory_rss if figures else 0,
        health=_health(fresh.state),
        url=app_out(platform, fresh).url,
        processes=processes,
        disk_bytes=platform.runtime.disk_usage(fresh),
        oom_kills=figures.oom_kills if figures else 0,
        last_exit=figures.last_exit if figures else None,
        limits=LimitsOut.model_validate(figures.limits) if figures and figures.limits else None,
        scale=fresh.instances,
        instances=[InstanceOut.model_validate(i) for i in figures.instances] if figures else [],
    )


@router.get("/networks/{network}/apps/{app}/status")
def get_app_status(network: str, app: str, user: UserDep, platform: PlatformDep) -> AppStatusOut:
    _, found = find_app(platform, user.id, network, app)
    return app_status(platform, found)


@router.get("/networks/{network}/status")
def get_network_status(network: str, user: UserDep, platform: PlatformDep) -> NetworkStatusOut:
    found = find_network(platform, user.id, network)
    apps = platform.apps.find(user.id, network=found.name)
    return NetworkStatusOut(network=found.name, apps=[app_status(platform, a) for a in apps])


@router.get("/status")
def dashboard(user: UserDep, platform: PlatformDep) -> DashboardOut:
    networks = platform.networks.of_user(user.id)
    apps = [app_status(platform, a) for a in platform.apps.find(user.id)]
    summaries = [
        NetworkSummary(name=n.name, apps=[a for a in apps if a.network == n.name]) for n in networks
    ]
    totals = Totals(
        networks=len(networks),
        apps=len(apps),
        running=sum(a.state == "running" for a in apps),
        failing=sum(a.health == "failing" for a in apps),
    )
    return DashboardOut(networks=summaries, totals=totals)
