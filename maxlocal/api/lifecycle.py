"""Restart, stop and start an app; each answers with the app's status."""

from __future__ import annotations

from fastapi import APIRouter

from maxlocal.api.deps import PlatformDep, UserDep, find_app
from maxlocal.api.status import AppStatusOut, app_status

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
