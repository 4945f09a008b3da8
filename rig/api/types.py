"""The platform's objects as docs/api.md describes them: what rig/api returns and commands read.

TypedDicts, not classes: the API's JSON is handed on as it is (``-o json`` prints it
unchanged), and a dict costs nothing to make. ``total=False`` where the platform may leave a
field out. :class:`Where` is anything that names a network, or an app in its network.
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict


class Where(Protocol):
    """A network (``app`` None), or an app in its network: the scope of an endpoint."""

    @property
    def network(self) -> str: ...

    @property
    def app(self) -> str | None: ...


class User(TypedDict, total=False):
    id: int
    email: str
    created_at: str


class Session(TypedDict, total=False):
    """What a login answers; its tokens go to :class:`rig.transport.http.Tokens`."""

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    user: User


class DeviceGrant(TypedDict, total=False):
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class Health(TypedDict, total=False):
    status: str
    version: str
    platform: str
    domain: str
    max_upload_bytes: int


class Var(TypedDict, total=False):
    key: str
    value: str
    source: str
    overrides: bool
    updated_at: str


class Secret(TypedDict, total=False):
    key: str
    digest: str
    source: str
    overrides: bool
    updated_at: str


class Network(TypedDict, total=False):
    name: str
    domain: str
    created_at: str
    apps: Any  # the count in listings, the list of apps in details


class App(TypedDict, total=False):
    name: str
    network: str
    hostname: str
    url: str
    state: str
    created_at: str


class NetworkDetails(Network, total=False):
    vars: list[Var]
    secrets: list[Secret]


class AppDetails(App, total=False):
    vars: list[Var]
    secrets: list[Secret]


class ReleaseFailure(TypedDict, total=False):
    reason: str
    phase: str
    log_tail: list[str]


class Release(TypedDict, total=False):
    number: int
    app: str
    network: str
    status: str
    source: str
    artifact_release: int
    checksum: str
    size: int
    message: str | None
    git: dict[str, Any] | None
    created_by: str
    created_at: str
    finished_at: str | None
    env_keys: dict[str, list[str]]
    error: ReleaseFailure | None
    processes: dict[str, str] | None  # once built: process type -> command
    image: dict[str, str | None] | None  # an image deploy's {"ref", "digest"}; None for source
    env_changed: list[str]  # a rollback's answer only
    rolled_back_to: int  # a rollback's answer only: the release run again


class Process(TypedDict, total=False):
    name: str
    pids: list[int]
    port: int | None


class Instance(TypedDict, total=False):
    name: str  # web.2
    type: str
    pid: int | None
    port: int | None
    up: bool


class Status(TypedDict, total=False):
    app: str
    network: str
    state: str
    release: int | None
    restarts: int
    started_at: str | None
    uptime_s: float | None
    cpu_percent: float | None
    memory_rss: int | None
    health: str
    url: str
    processes: list[Process]
    disk_bytes: int
    oom_kills: int
    last_exit: str | None
    limits: dict[str, Any] | None
    scale: int | None
    instances: list[Instance]


class NetworkStatus(TypedDict, total=False):
    network: str
    apps: list[Status]


class Dashboard(TypedDict, total=False):
    networks: list[dict[str, Any]]
    totals: dict[str, int]


class LogRecord(TypedDict, total=False):
    """A stored or live log line; a follow also yields ``{"topic", "skipped"}`` markers."""

    seq: int
    ts: str
    app: str | None
    stream: str
    line: str
    release: int
    topic: str
    skipped: int


class ExecSession(TypedDict, total=False):
    id: str
    network: str
    app: str | None
    kind: str
    command: str
    started_at: str
    pid: int


class AuditRecord(TypedDict, total=False):
    id: int
    session: str
    user_id: int
    user_email: str
    network: str
    app: str | None
    kind: str
    command: str
    client: str
    started_at: str
    ended_at: str | None
    exit_code: int | None
    duration_s: float | None
    reason: str | None


class Event(TypedDict, total=False):
    """An event-topic record from a follow: ``{"topic", "event", "payload"}``."""

    topic: str
    event: str
    payload: dict[str, Any]
