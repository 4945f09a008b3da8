"""The platform as one object: its stores, runtime, auth and settings, built once at start-up.

``Platform.build`` is the one place a runtime driver is chosen (``runtime.driver.create``, by
the name in ``RuntimeOptions.driver``); everything above holds it as a ``RuntimeDriver``.

The HTTP layer (``api/``), the realtime socket (``live.py``) and remote access (``remote/``) are
all handed this container; it lives here, below all three, so none of them imports another."""

from __future__ import annotations

from dataclasses import dataclass, field

from maxlocal.auth import Auth
from maxlocal.crypto import Vault
from maxlocal.events import Events
from maxlocal.runtime.artifacts import MAX_ARCHIVE_BYTES
from maxlocal.runtime.driver import RuntimeDriver, RuntimeOptions, Stores, create
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
    runtime: RuntimeDriver
    """Whatever runs the apps (``runtime.driver``): every layer above reaches it through this."""
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
        runtime = create(runtime_options, Stores(apps, releases, env, vault))
        return cls(db, auth, vault, Networks(db), apps, env, releases, runtime, settings)


__all__ = ["Platform", "RuntimeOptions", "Settings"]
