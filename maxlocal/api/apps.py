"""Apps: created inside a network, listed across networks."""

from __future__ import annotations

from fastapi import APIRouter, Response

from maxlocal.api.deps import (
    PlatformDep,
    UserDep,
    create_named,
    find_app,
    find_network,
)
from maxlocal.api.env import list_secrets, list_vars
from maxlocal.api.schemas import AppDetails, AppOut, CreateNamed
from maxlocal.errors import AlreadyExists
from maxlocal.platform import Platform
from maxlocal.store.apps import App
from maxlocal.store.env import Scope

router = APIRouter(tags=["apps"])


def app_out(platform: Platform, app: App) -> AppOut:
    hostname = f"{app.name}.{app.network}.{platform.settings.domain}"
    return AppOut(
        name=app.name,
        network=app.network,
        hostname=hostname,
        url=f"http://{hostname}:{platform.settings.app_port}/",
        state=app.state,  # type: ignore[arg-type]
        created_at=app.created_at,
    )


@router.get("/apps")
def list_apps(
    user: UserDep, platform: PlatformDep, network: str | None = None, name: str | None = None
) -> list[AppOut]:
    return [app_out(platform, a) for a in platform.apps.find(user.id, network, name)]


@router.post("/networks/{network}/apps", status_code=201)
def create_app(
    network: str, user: UserDep, platform: PlatformDep, body: CreateNamed | None = None
) -> AppOut:
    net = find_network(platform, user.id, network)
    name = body.name if body else None
    created = create_named(
        lambda candidate: platform.apps.create(net.id, candidate),
        name,
        lambda: AlreadyExists(
            f"app '{name}' already exists in network '{network}'", "choose another name"
        ),
    )
    platform.events.resource(user.id, "created", network, created.name)
    return app_out(platform, created)


@router.get("/networks/{network}/apps/{app}")
def get_app(network: str, app: str, user: UserDep, platform: PlatformDep) -> AppDetails:
    net, found = find_app(platform, user.id, network, app)
    scope = Scope(net.id, found.id)
    return AppDetails(
        **app_out(platform, found).model_dump(),
        vars=list_vars(platform, scope),
        secrets=list_secrets(platform, scope),
    )


@router.delete("/networks/{network}/apps/{app}", status_code=204, response_class=Response)
def delete_app(network: str, app: str, user: UserDep, platform: PlatformDep) -> None:
    _, found = find_app(platform, user.id, network, app)
    platform.runtime.remove(found)
    platform.apps.delete(found.id)
    platform.events.resource(user.id, "deleted", network, found.name)
