"""Restart, stop, start and scale an app; each answers with the app's status."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from maxlocal.api.deps import PlatformDep, UserDep, find_app
from maxlocal.api.status import AppStatusOut, app_status
from maxlocal.runtime.procfile import MAX_INSTANCES

router = APIRouter(tags=["lifecycle"])

APP = "/networks/{network}/apps/{app}"


@router.post(APP + "/restart")
def restart(network: str, app: str, user: UserDep, platform: PlatformDep) -> AppStatusOut:
    _, found = find_app(platform, user.id, network, app)
    platform.runtime.start(found, user.email)
    return app_status(platform, found)


@router.post(APP + "/stop")
def stop(network: str, app: str, user: UserDep, platform: PlatformDep) -> AppStatusOut:
    _, found = find_app(platform, user.id, network, app)
    platform.runtime.stop(found)
    return app_status(platform, found)


@router.post(APP + "/start")
def start(network: str, app: str, user: UserDep, platform: PlatformDep) -> AppStatusOut:
    _, found = find_app(platform, user.id, network, app)
    if found.state != "running":
        platform.runtime.start(found, user.email)
    return app_status(platform, found)


class ScaleIn(BaseModel):
    instances: int = Field(ge=1, le=MAX_INSTANCES)


@router.post(APP + "/scale")
def scale(
    network: str, app: str, body: ScaleIn, user: UserDep, platform: PlatformDep
) -> AppStatusOut:
    """Run ``instances`` web processes; waits until they are all healthy (a running app)."""
    _, found = find_app(platform, user.id, network, app)
    platform.runtime.scale(found, body.instances)
    return app_status(platform, found)
