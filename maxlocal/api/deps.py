"""The parts of the platform the routers use, and the dependencies that hand them out."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from maxlocal import names
from maxlocal.auth import Auth
from maxlocal.crypto import Vault
from maxlocal.errors import Conflict, NotFound, PlatformError, Unauthorized
from maxlocal.store.db import Database
from maxlocal.store.env import Env
from maxlocal.store.networks import App, Apps, NameTaken, Network, Networks
from maxlocal.store.users import User


@dataclass
class Settings:
    domain: str = "localhost"
    app_port: int = 80


@dataclass
class Platform:
    db: Database
    auth: Auth
    vault: Vault
    networks: Networks
    apps: Apps
    env: Env
    settings: Settings

    @classmethod
    def build(cls, db: Database, auth: Auth, vault: Vault, settings: Settings) -> Platform:
        return cls(db, auth, vault, Networks(db), Apps(db), Env(db), settings)


def get_platform(request: Request) -> Platform:
    return request.app.state.platform


_bearer = HTTPBearer(auto_error=False, description="An access token (mxa_) or API token (mxt_)")


def current_user(
    platform: Annotated[Platform, Depends(get_platform)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise Unauthorized("missing bearer token", "sign in with `rig login`")
    return platform.auth.authenticate(credentials.credentials)


PlatformDep = Annotated[Platform, Depends(get_platform)]
UserDep = Annotated[User, Depends(current_user)]


def find_network(platform: Platform, user_id: int, name: str) -> Network:
    network = platform.networks.get(user_id, name)
    if network is None:
        raise NotFound(f"network '{name}' not found", "run `rig list networks` to see yours")
    return network


def find_app(platform: Platform, user_id: int, network_name: str, name: str) -> tuple[Network, App]:
    network = find_network(platform, user_id, network_name)
    app = platform.apps.get(network.id, name)
    if app is None:
        raise NotFound(
            f"app '{name}' not found in network '{network_name}'",
            f"run `rig list apps --network {network_name}` to see its apps",
        )
    return network, app


GENERATE_ATTEMPTS = 20
Created = TypeVar("Created")


def create_named(
    create: Callable[[str], Created], name: str | None, taken: Callable[[], PlatformError]
) -> Created:
    """Create with the given name, or with a generated one when there is none."""
    if name is not None:
        try:
            return create(name)
        except NameTaken as e:
            raise taken() from e
    for _ in range(GENERATE_ATTEMPTS):
        with contextlib.suppress(NameTaken):
            return create(names.generate_name())
    raise Conflict("could not find a free name to generate", "give a name")
