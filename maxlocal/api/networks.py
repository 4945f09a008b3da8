"""Networks: named groups of apps, unique on the whole platform (they are subdomains)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from maxlocal.api.apps import app_out
from maxlocal.api.deps import PlatformDep, UserDep, create_named, find_network
from maxlocal.api.env import list_secrets, list_vars
from maxlocal.api.schemas import AppOut, CreateNamed, SecretOut, VarOut
from maxlocal.errors import AlreadyExists, Conflict
from maxlocal.platform import Platform
from maxlocal.store.env import Scope
from maxlocal.store.networks import Network

router = APIRouter(tags=["networks"])


class NetworkOut(BaseModel):
    name: str
    domain: str
    created_at: str
    apps: int


class NetworkDetails(BaseModel):
    name: str
    domain: str
    created_at: str
    apps: list[AppOut]
    vars: list[VarOut]
    secrets: list[SecretOut]


def _out(platform: Platform, network: Network) -> NetworkOut:
    return NetworkOut(
        name=network.name,
        domain=f"{network.name}.{platform.settings.domain}",
        created_at=network.created_at,
        apps=network.app_count,
    )


@router.get("/networks")
def list_networks(user: UserDep, platform: PlatformDep) -> list[NetworkOut]:
    return [_out(platform, n) for n in platform.networks.of_user(user.id)]


@router.post("/networks", status_code=201)
def create_network(
    user: UserDep, platform: PlatformDep, body: CreateNamed | None = None
) -> NetworkOut:
    name = body.name if body else None
    created = create_named(
        lambda candidate: platform.networks.create(user.id, candidate),
        name,
        lambda: AlreadyExists(f"network name '{name}' is already taken", "choose another name"),
    )
    # A new owner of the name starts empty, even where an earlier owner's files outlived the
    # network (a platform stopped mid-deletion, or one from before deletion removed them).
    platform.runtime.remove_network(created.name)
    platform.events.resource(user.id, "created", created.name)
    return _out(platform, created)


@router.get("/networks/{network}")
def get_network(network: str, user: UserDep, platform: PlatformDep) -> NetworkDetails:
    found = find_network(platform, user.id, network)
    scope = Scope(found.id)
    return NetworkDetails(
        **_out(platform, found).model_dump(exclude={"apps"}),
        apps=[app_out(platform, a) for a in platform.apps.find(user.id, network=found.name)],
        vars=list_vars(platform, scope),
        secrets=list_secrets(platform, scope),
    )


@router.delete("/networks/{network}", status_code=204, response_class=Response)
def delete_network(network: str, user: UserDep, platform: PlatformDep, force: bool = False) -> None:
    found = find_network(platform, user.id, network)
    if force:
        for app in platform.apps.find(user.id, network=found.name):
            platform.runtime.remove(app)
            platform.events.resource(user.id, "deleted", found.name, app.name)
        platform.networks.delete(found.id)
    elif not platform.networks.delete_if_empty(found.id):
        raise Conflict(
            f"network '{network}' still has apps",
            f"delete its apps first, or force: `rig delete network {network} --force`",
        )
    platform.runtime.remove_network(found.name)
    platform.events.resource(user.id, "deleted", found.name)
