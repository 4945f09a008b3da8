"""The parts of the platform the routers use, and the dependencies that hand them out."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from maxlocal import names
from maxlocal.auth import Auth
from maxlocal.crypto import Vault
from maxlocal.deploys import DEFAULT_KEEP_RELEASES, Runtime
from maxlocal.errors import Conflict, NotFound, PlatformError, Unauthorized
from maxlocal.events import Events
from maxlocal.layout import Layout
from maxlocal.runtime.artifacts import MAX_ARCHIVE_BYTES
from maxlocal.runtime.cgroups import Cgroups
from maxlocal.runtime.logstore import DEFAULT_LIMIT, DEFAULT_LIMIT_BYTES
from maxlocal.store.db import Database
from maxlocal.store.env import Env
from maxlocal.store.networks import App, Apps, NameTaken, Network, Networks
from maxlocal.store.releases import Releases
from maxlocal.store.users import User


@dataclass
class Settings:
    domain: str = "localhost"
    app_port: int = 80
    max_upload_bytes: int = MAX_ARCHIVE_BYTES
    device_code_ttl: int = 600
    router: dict[str, str] = field(
        default_factory=lambda: {"mode": "in-process", "detail": "the API's own event loop"}
    )
    """What forwards visitors to apps (``maxlocal.edge``): ``{"mode": "haproxy"|"in-process",
    "detail"}``."""


@dataclass
class Platform:
    db: Database
    auth: Auth
    vault: Vault
    networks: Networks
    apps: Apps
    env: Env
    releases: Releases
    runtime: Runtime
    settings: Settings
    events: Events = field(default_factory=Events)

    @classmethod
    def build(
        cls,
        db: Database,
        auth: Auth,
        vault: Vault,
        settings: Settings,
        runtime_options: RuntimeOptions,
    ) -> Platform:
        apps, env, releases = Apps(db), Env(db), Releases(db)
        runtime = Runtime(
            runtime_options.layout,
            apps,
            releases,
            env,
            vault,
            log_limit=runtime_options.log_limit,
            log_bytes=runtime_options.log_bytes,
            health_timeout=runtime_options.health_timeout,
            isolation=runtime_options.isolation,
            keep_releases=runtime_options.keep_releases,
            cgroups=runtime_options.cgroups,
        )
        return cls(db, auth, vault, Networks(db), apps, env, releases, runtime, settings)


@dataclass(frozen=True)
class RuntimeOptions:
    layout: Layout
    log_limit: int = DEFAULT_LIMIT
    log_bytes: int = DEFAULT_LIMIT_BYTES
    health_timeout: float = 30.0
    isolation: str = "auto"
    """auto, sandbox or none: see ``runtime.sandbox.choose``."""
    keep_releases: int = DEFAULT_KEEP_RELEASES
    cgroups: Cgroups | None = None


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
