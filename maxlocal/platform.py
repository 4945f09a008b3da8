"""The platform as one object: its stores, runtime, auth and settings, built once at start-up.

The HTTP layer (``api/``), the realtime socket (``live.py``) and remote access (``remote/``) are
all handed this container; it lives here, below all three, so none of them imports another."""

from __future__ import annotations

from dataclasses import dataclass, field

from maxlocal.auth import Auth
from maxlocal.crypto import Vault
from maxlocal.events import Events
from maxlocal.layout import Layout
from maxlocal.runtime.artifacts import MAX_ARCHIVE_BYTES
from maxlocal.runtime.cgroups import Cgroups
from maxlocal.runtime.core import DEFAULT_KEEP_RELEASES, Runtime
from maxlocal.runtime.logstore import DEFAULT_LIMIT, DEFAULT_LIMIT_BYTES
from maxlocal.store.apps import Apps
from maxlocal.store.db import Database
from maxlocal.store.env import Env
from maxlocal.store.networks import Networks
from maxlocal.store.releases import Releases


@dataclass
class Settings:
    domain: str = "localhost"
    host: str = "127.0.0.1"  # the address the platform listens on
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
