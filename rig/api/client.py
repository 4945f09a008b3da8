"""Every endpoint of docs/api.md, once: :class:`Api` turns the platform's paths, query
parameters and headers into typed calls, so that commands speak of networks, apps and
releases, never of URLs.

It sits on :class:`rig.transport.http.ApiClient` (the wire: JSON, tokens, errors as the typed
:class:`rig.errors.RigError` subclasses) and adds nothing but the API's shape. The token
endpoints (``/auth/...``), called before there is a login to make an :class:`Api` of, are in
:mod:`rig.api.auth` (and the refresh in :mod:`rig.transport.http`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rig.api.logs import LogSource
    from rig.api.types import (
        App,
        AppDetails,
        AuditRecord,
        Dashboard,
        ExecSession,
        Health,
        LogRecord,
        Network,
        NetworkDetails,
        NetworkStatus,
        Release,
        Status,
        User,
        Where,
    )
    from rig.transport.http import ApiClient
    from rig.transport.remote import Platform

LAST_SEQ_HEADER = "X-Last-Seq"
RELEASE_HEADER = "X-Release"
RELEASE_APPS_HEADER = "X-Release-Apps"
Made = tuple[str | None, str]  # a release a config change made: its app (if named), its number
ENV_KINDS = ("vars", "secrets")
LIFECYCLE_VERBS = ("restart", "stop", "start")


def scope_path(where: Where) -> str:
    """``/networks/N`` or ``/networks/N/apps/A``: the ``{scope}`` of docs/api.md."""
    base = f"/networks/{where.network}"
    return f"{base}/apps/{where.app}" if where.app else base


# Plain classes, not dataclasses: every API command imports this module, and a dataclass
# costs ~0.5 ms of start-up to define.


class At:
    """The plainest :class:`~rig.api.types.Where`: a network, or an app in it."""

    __slots__ = ("app", "network")

    def __init__(self, network: str, app: str | None = None) -> None:
        self.network, self.app = network, app


class LogPage:
    """Stored log lines and ``last_seq``, the log's last sequence number when the platform read
    it (``X-Last-Seq``): where a follow continues so that nothing is missed or shown twice."""

    __slots__ = ("last_seq", "records")

    def __init__(self, records: list[LogRecord], last_seq: int | None) -> None:
        self.records, self.last_seq = records, last_seq

    @property
    def resume_after(self) -> int | None:
        """The seq to follow from: the later of ``last_seq`` and the last line shown."""
        seqs = [r["seq"] for r in self.records if isinstance(r.get("seq"), int)]
        candidates = [s for s in (self.last_seq, max(seqs, default=None)) if s is not None]
        return max(candidates) if candidates else None


class EnvChange:
    """A var or secret change: the scope's list after it, and the releases it made (restarts)."""

    __slots__ = ("releases", "rows")

    def __init__(self, rows: list[dict[str, Any]], releases: list[Made]) -> None:
        self.rows, self.releases = rows, releases


class Api:
    """The platform's API for one login: ``Api(client)``; ``client`` is closed by its owner."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    @property
    def base_url(self) -> str:
        return self.client.base_url

    def close(self) -> None:
        """For an owner that opened this API itself (the shell's background work)."""
        self.client.close()

    def socket_token(self) -> str:
        """The token for a socket connect, refreshed first when due."""
        return self.client.auth_headers().get("Authorization", "").removeprefix("Bearer ")

    # -- the platform and the caller ------------------------------------------------

    def health(self) -> Health:
        return cast("Health", self.client.request("GET", "/health", auth=False) or {})

    def me(self) -> User:
        return cast("User", self.client.get("/me") or {})

    # -- networks and apps --------------------------------------------------------------

    def networks(self) -> list[Network]:
        return cast("list[Network]", self.client.get("/networks") or [])

    def create_network(self, name: str | None = None) -> Network:
        return cast("Network", self.client.post("/networks", {"name": name} if name else {}))

    def network(self, name: str) -> NetworkDetails:
        return cast("NetworkDetails", self.client.get(f"/networks/{name}"))

    def delete_network(self, name: str, *, force: bool = False) -> None:
        self.client.delete(f"/networks/{name}", params={"force": "true"} if force else None)

    def apps(self, network: str | None = None, name: str | None = None) -> list[App]:
        params = {k: v for k, v in (("network", network), ("name", name)) if v}
        return cast("list[App]", self.client.get("/apps", params=params or None) or [])

    def create_app(self, network: str, name: str | None = None) -> App:
        body = {"name": name} if name else {}
        return cast("App", self.client.post(f"/networks/{network}/apps", body))

    def app(self, network: str, name: str) -> AppDetails:
        return cast("AppDetails", self.client.get(f"/networks/{network}/apps/{name}"))

    def details(self, where: Where) -> NetworkDetails | AppDetails:
        """A network's or an app's details, whichever ``where`` names."""
        return cast("AppDetails", self.client.get(scope_path(where)))

    def delete_app(self, network: str, name: str) -> None:
        self.client.delete(f"/networks/{network}/apps/{name}")

    # -- vars and secrets -----------------------------------------------------------------

    def env(self, where: Where, kind: str) -> list[dict[str, Any]]:
        """The ``vars`` or ``secrets`` of a scope (at app scope, the effective set)."""
        return cast("list[dict[str, Any]]", self.client.get(_env_path(where, kind)) or [])

    def set_env(
        self, where: Where, kind: str, values: dict[str, str], *, restart: bool = True
    ) -> EnvChange:
        response = self.client.send(
            "PATCH", _env_path(where, kind), body={kind: values}, params=_restart(restart)
        )
        return EnvChange(response.json(), _releases(response.headers))

    def delete_env(self, where: Where, kind: str, key: str, *, restart: bool = True) -> list[Made]:
        """Delete one key; the releases the change made (none with ``restart=False``)."""
        response = self.client.send(
            "DELETE", f"{_env_path(where, kind)}/{key}", params=_restart(restart)
        )
        return _releases(response.headers)

    def reveal_secrets(self, where: Where, keys: list[str] | None = None) -> dict[str, str]:
        """The values of a scope's secrets (all, or ``keys``): audited by the platform."""
        body = {"keys": keys} if keys is not None else {}
        answer = self.client.post(f"{_env_path(where, 'secrets')}/reveal", body) or {}
        return {str(k): str(v) for k, v in (answer.get("secrets") or {}).items()}

    # -- releases and the app's lifecycle -----------------------------------------------

    def releases(self, network: str, app: str) -> list[Release]:
        return cast("list[Release]", self.client.get(f"{_app_path(network, app)}/releases") or [])

    def release(self, network: str, app: str, number: int) -> Release:
        return cast("Release", self.client.get(f"{_app_path(network, app)}/releases/{number}"))

    def rollback(self, network: str, app: str, to: int | None = None) -> Release:
        body = {"to": to} if to is not None else {}
        return cast("Release", self.client.post(f"{_app_path(network, app)}/rollback", body))

    def build_plan(self, paths: list[str], files: dict[str, str]) -> dict[str, Any]:
        """How the platform would build and start these files (``POST /build-plan``): the
        paths near the top of the tree and the small top-level files detection reads."""
        return cast(
            "dict[str, Any]", self.client.post("/build-plan", {"paths": paths, "files": files})
        )

    def upload_release(
        self,
        network: str,
        app: str,
        archive: Path,
        sha256: str,
        params: dict[str, str],
        progress: Any = None,
    ) -> Release:
        """Stream an archive up as a new release (``POST {app}/releases``), with retries."""
        from urllib.parse import urlencode

        from rig.transport.http import error_from_response
        from rig.transport.upload import upload

        url = f"{_app_path(network, app)}/releases" + (f"?{urlencode(params)}" if params else "")
        client = self.client
        response = upload(
            client.http, url, archive, sha256, progress, headers=client.auth_headers()
        )
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.text, client.base_url)
        return cast("Release", response.json())

    def deploy_image(
        self,
        network: str,
        app: str,
        image: str,
        message: str | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Release:
        """A release of a prebuilt image (``POST {app}/releases/image``); ``auth`` (user,
        password) for this pull only, else the platform uses the stored credentials."""
        body: dict[str, Any] = {"image": image}
        if message:
            body["message"] = message
        if auth is not None:
            body["auth"] = {"username": auth[0], "password": auth[1]}
        return cast("Release", self.client.post(f"{_app_path(network, app)}/releases/image", body))

    # -- registry credentials ---------------------------------------------------------------

    def registries(self) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.client.get("/registries") or [])

    def set_registry(self, host: str, username: str, password: str) -> dict[str, Any]:
        body = {"host": host, "username": username, "password": password}
        return cast("dict[str, Any]", self.client.post("/registries", body))

    def delete_registry(self, host: str) -> None:
        self.client.delete(f"/registries/{host}")

    def lifecycle(self, network: str, app: str, verb: str) -> Status:
        """``restart``, ``stop`` or ``start`` an app; its status once done."""
        assert verb in LIFECYCLE_VERBS, verb
        return cast("Status", self.client.post(f"{_app_path(network, app)}/{verb}", {}))

    def scale(self, network: str, app: str, instances: int) -> Status:
        """Run ``instances`` web processes of the app; its status once they are healthy."""
        body = {"instances": instances}
        return cast("Status", self.client.post(f"{_app_path(network, app)}/scale", body))

    # -- status and logs ------------------------------------------------------------------

    def app_status(self, network: str, app: str) -> Status:
        return cast("Status", self.client.get(f"{_app_path(network, app)}/status"))

    def network_status(self, network: str) -> NetworkStatus:
        return cast("NetworkStatus", self.client.get(f"/networks/{network}/status"))

    def dashboard(self) -> Dashboard:
        return cast("Dashboard", self.client.get("/status") or {})

    def logs(self, source: LogSource, **query: Any) -> LogPage:
        """Stored lines of ``source`` (query: ``tail``, ``since``, ``grep``, ``release``,
        ``after``; None values are left out) and the log's last seq."""
        params = {k: v for k, v in query.items() if v is not None}
        response = self.client.send("GET", _log_path(source), params=params)
        records = (response.json() if response.content else None) or []
        header = str(response.headers.get(LAST_SEQ_HEADER, ""))
        return LogPage(records, int(header) if header.isdigit() else None)

    # -- remote access ----------------------------------------------------------------------

    def sessions(self) -> list[ExecSession]:
        return cast("list[ExecSession]", self.client.get("/sessions") or [])

    def audit(
        self, network: str | None = None, app: str | None = None, since: str | None = None
    ) -> list[AuditRecord]:
        params = {k: v for k, v in (("network", network), ("app", app), ("since", since)) if v}
        return cast("list[AuditRecord]", self.client.get("/audit", params=params) or [])

    def exec_platform(self) -> Platform:
        """Where remote sessions connect: the socket's URL and a token read at each connect."""
        from rig.transport.remote import Platform

        def params() -> dict[str, str]:
            return {"token": self.socket_token()}

        return Platform(self.base_url, params, self.client.tls)


def _app_path(network: str, app: str) -> str:
    return f"/networks/{network}/apps/{app}"


def _env_path(where: Where, kind: str) -> str:
    assert kind in ENV_KINDS, kind
    return f"{scope_path(where)}/{kind}"


def _log_path(source: LogSource) -> str:
    if source.app is None:
        return f"/networks/{source.network}/logs"
    base = f"{_app_path(source.network, source.app)}/logs"
    return base + "/build" if source.kind == "build" else base


def _restart(restart: bool) -> dict[str, str] | None:
    return None if restart else {"restart": "false"}


def _releases(headers: Mapping[str, str]) -> list[Made]:
    """The config releases a var or secret change made: (app, number), the app None from a
    platform that does not name them."""
    numbers = [n.strip() for n in headers.get(RELEASE_HEADER, "").split(",") if n.strip()]
    apps = [a.strip() for a in headers.get(RELEASE_APPS_HEADER, "").split(",")]
    if len(apps) != len(numbers):
        return [(None, number) for number in numbers]
    return [(app or None, number) for app, number in zip(apps, numbers, strict=True)]
