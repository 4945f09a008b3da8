"""The dependencies that hand the routers the platform (``maxlocal.platform``) and the caller,
and the lookups every route goes through."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from maxlocal import names
from maxlocal.errors import Conflict, NotFound, PlatformError, Unauthorized
from maxlocal.platform import Platform
from maxlocal.store.apps import App
from maxlocal.store.networks import NameTaken, Network
from maxlocal.store.users import User


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
        known = (n.name for n in platform.networks.of_user(user_id))
        raise NotFound(
            f"network '{name}' not found",
            suggesting(name, known, "run `rig list networks` to see yours"),
        )
    return network


def find_app(platform: Platform, user_id: int, network_name: str, name: str) -> tuple[Network, App]:
    network = find_network(platform, user_id, network_name)
    app = platform.apps.get(network.id, name)
    if app is None:
        known = (a.name for a in platform.apps.find(user_id, network_name))
        raise NotFound(
            f"app '{name}' not found in network '{network_name}'",
            suggesting(
                name, known, f"run `rig list apps --network {network_name}` to see its apps"
            ),
        )
    return network, app


def suggesting(given: str, known: Iterable[str], hint: str) -> str:
    """``hint``, after ``did you mean `shop`?`` when one of the ``known`` names is close to
    ``given`` (only the asking user's own names are ever passed, so nothing leaks)."""
    import difflib

    match = difflib.get_close_matches(given, list(known), n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`? {hint[:1].upper()}{hint[1:]}" if match else hint


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
