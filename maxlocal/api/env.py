"""Vars and secrets, at network scope and at app scope (where network values are inherited).

The same seven endpoints serve both scopes (``_scope_routes``): a dependency, ``network_scope``
or ``app_scope``, turns the path into a ``Where`` (or a 404), and each endpoint is a line on
the shared logic below."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Request as HttpRequest
from pydantic import AfterValidator, BaseModel

from maxlocal import names
from maxlocal.api.deps import PlatformDep, UserDep, find_app, find_network
from maxlocal.api.schemas import Request, SecretOut, VarOut
from maxlocal.errors import Conflict, NotFound
from maxlocal.platform import Platform
from maxlocal.store.audit import AuditLog, NewAuditRow
from maxlocal.store.env import Entry, Kind, KindConflict, NewEntry, Scope
from maxlocal.store.users import User

router = APIRouter(tags=["env"])

NETWORK = "/networks/{network}"
APP = "/networks/{network}/apps/{app}"


def _check_entries(entries: dict[str, str]) -> dict[str, str]:
    for key, value in entries.items():
        problem = names.key_problem(key)
        if problem:
            raise ValueError(f"key '{key[:80]}' {problem}")
        problem = names.value_problem(value)
        if problem:
            raise ValueError(f"the value of '{key}' {problem}")
    return entries


EnvMap = Annotated[dict[str, str], AfterValidator(_check_entries)]


class SetVars(Request):
    vars: EnvMap


class SetSecrets(Request):
    secrets: EnvMap


class RevealRequest(Request):
    keys: list[str] | None = None


class Revealed(BaseModel):
    secrets: dict[str, str]


def _effective(network_entries: list[Entry], app_entries: list[Entry]) -> list[tuple[Entry, bool]]:
    """Each entry in force with whether it hides a network value, sorted by key."""
    merged = {e.key: (e, False) for e in network_entries}
    for e in app_entries:
        merged[e.key] = (e, e.key in merged)
    return [merged[key] for key in sorted(merged)]


def _var(entry: Entry, overrides: bool) -> VarOut:
    return VarOut(
        key=entry.key,
        value=entry.value or "",
        source="app" if entry.app_level else "network",
        overrides=overrides,
        updated_at=entry.updated_at,
    )


def _secret(entry: Entry, overrides: bool) -> SecretOut:
    return SecretOut(
        key=entry.key,
        digest=entry.digest or "",
        source="app" if entry.app_level else "network",
        overrides=overrides,
        updated_at=entry.updated_at,
    )


Out = TypeVar("Out", VarOut, SecretOut)


def _in_force(platform: Platform, scope: Scope, kind: Kind) -> list[tuple[Entry, bool]]:
    """The entries of ``kind`` in force at ``scope`` (see ``_effective``)."""
    network_entries = platform.env.entries(Scope(scope.network_id))
    app_entries = platform.env.entries(scope) if scope.app_id is not None else []
    return [(e, o) for e, o in _effective(network_entries, app_entries) if e.kind == kind]


def _listing(
    platform: Platform, scope: Scope, kind: Kind, render: Callable[[Entry, bool], Out]
) -> list[Out]:
    return [render(e, o) for e, o in _in_force(platform, scope, kind)]


def list_vars(platform: Platform, scope: Scope) -> list[VarOut]:
    return _listing(platform, scope, "var", _var)


def list_secrets(platform: Platform, scope: Scope) -> list[SecretOut]:
    return _listing(platform, scope, "secret", _secret)


@dataclass
class Where:
    """The scope a request names (a network, or an app in it), with the names it was given."""

    platform: Platform
    user_id: int
    network: str
    app: str | None = None

    @functools.cached_property
    def scope(self) -> Scope:
        """Looked up on first use, in the endpoint: as everywhere in the API, a request that
        does not validate is a 422 before an unknown network or app is a 404."""
        if self.app is None:
            return Scope(find_network(self.platform, self.user_id, self.network).id)
        network, app = find_app(self.platform, self.user_id, self.network, self.app)
        return Scope(network.id, app.id)


def network_scope(network: str, user: UserDep, platform: PlatformDep) -> Where:
    """``/networks/{network}/...``: the caller's network (NotFound when it is not theirs)."""
    return Where(platform, user.id, network)


def app_scope(network: str, app: str, user: UserDep, platform: PlatformDep) -> Where:
    """``/networks/{network}/apps/{app}/...``: the caller's app (NotFound when it is not)."""
    return Where(platform, user.id, network, app)


def _set(platform: Platform, scope: Scope, kind: Kind, entries: dict[str, NewEntry]) -> None:
    try:
        platform.env.set(scope, kind, entries)
    except KindConflict as e:
        command = "var" if e.existing == "var" else "secret"
        raise Conflict(
            f"'{e.key}' is already a {e.existing} here; it cannot also be a {kind}",
            f"delete the {e.existing} first: `rig delete {command} {e.key}`",
        ) from e


def _set_vars(platform: Platform, scope: Scope, body: SetVars) -> list[VarOut]:
    _set(platform, scope, "var", {k: NewEntry(value=v) for k, v in body.vars.items()})
    return list_vars(platform, scope)


def _set_secrets(platform: Platform, scope: Scope, body: SetSecrets) -> list[SecretOut]:
    vault = platform.vault
    entries = {
        k: NewEntry(ciphertext=vault.encrypt(v), digest=vault.digest(v))
        for k, v in body.secrets.items()
    }
    _set(platform, scope, "secret", entries)
    return list_secrets(platform, scope)


def _delete(platform: Platform, scope: Scope, kind: Kind, key: str) -> None:
    if not platform.env.delete(scope, kind, key):
        where = "this app" if scope.app_id is not None else "this network"
        raise NotFound(f"{kind} '{key}' is not set on {where}")


RestartQuery = Annotated[
    bool, Query(description="false: change the config only; the next release picks it up")
]


class ConfigRelease:
    """What follows a change of vars or secrets: unless ``restart`` is false, a config release
    of each app the change reaches that has a running release, the new releases named in
    ``X-Release`` (their apps, in the same order, in ``X-Release-Apps``: at network scope the
    numbers alone say little). A dependency, so each endpoint says only what it changes."""

    def __init__(
        self, user: UserDep, platform: PlatformDep, response: Response, restart: RestartQuery = True
    ) -> None:
        self.user, self.platform, self.response, self.restart = user, platform, response, restart

    def after(self, where: Where, message: str) -> None:
        if not self.restart:
            return
        reached = self.platform.apps.find(self.user.id, network=where.network, name=where.app)
        runtime, by = self.platform.runtime, self.user.email
        made = [(a.name, runtime.config_release(a, by, message)) for a in reached]
        restarted = [(name, str(r.number)) for name, r in made if r is not None]
        if restarted:
            self.response.headers["X-Release"] = ",".join(number for _, number in restarted)
            self.response.headers["X-Release-Apps"] = ",".join(name for name, _ in restarted)


ReleaseDep = Annotated[ConfigRelease, Depends()]


def _set_message(entries: dict[str, str]) -> str:
    return "set " + ", ".join(sorted(entries))


def reveal_secrets(
    platform: Platform,
    user: User,
    where: Where,
    body: RevealRequest | None,
    request: HttpRequest,
) -> Revealed:
    """The effective secrets' values, for the owner's own local use (``rig run
    --with-secrets``); every reveal is in the audit trail, by key, never by value."""
    found = {e.key: e for e, _ in _in_force(platform, where.scope, "secret")}
    wanted = sorted(found) if body is None or body.keys is None else sorted(set(body.keys))
    missing = [key for key in wanted if key not in found]
    if missing:
        raise NotFound(f"no secret {', '.join(missing)} here", "run `rig list secrets` to see them")
    values = {key: platform.vault.decrypt(found[key].ciphertext or b"") for key in wanted}
    peer = request.client
    log = AuditLog(platform.db)
    record = log.start(
        NewAuditRow(
            session=f"reveal-{uuid.uuid4().hex[:12]}",
            user_id=user.id,
            network=where.network,
            app=where.app,
            kind="reveal",
            command="reveal secrets " + (", ".join(wanted) or "(none)"),
            client=f"{peer.host}:{peer.port}" if peer else None,
        )
    )
    log.end(record, 0, 0.0, "revealed")
    return Revealed(secrets=values)


def _scope_routes(prefix: str, level: str, resolve: Callable[..., Where]) -> None:
    """The vars and secrets endpoints of one scope (``level``: network or app), each a line:
    ``resolve`` (``network_scope`` or ``app_scope``) finds the scope or answers 404. The routes'
    names are the OpenAPI operations' names (``set_app_vars``)."""
    at = Depends(resolve)

    def get_vars(where: Where = at) -> list[VarOut]:
        return list_vars(where.platform, where.scope)

    def get_secrets(where: Where = at) -> list[SecretOut]:
        return list_secrets(where.platform, where.scope)

    def set_vars(body: SetVars, release: ReleaseDep, where: Where = at) -> list[VarOut]:
        result = _set_vars(where.platform, where.scope, body)
        release.after(where, _set_message(body.vars))
        return result

    def set_secrets(body: SetSecrets, release: ReleaseDep, where: Where = at) -> list[SecretOut]:
        result = _set_secrets(where.platform, where.scope, body)
        release.after(where, _set_message(body.secrets))
        return result

    def delete(kind: Kind) -> Callable[..., None]:
        def delete_entry(key: str, release: ReleaseDep, where: Where = at) -> None:
            _delete(where.platform, where.scope, kind, key)
            release.after(where, f"unset {key}")

        return delete_entry

    def reveal(
        user: UserDep, request: HttpRequest, body: RevealRequest | None = None, where: Where = at
    ) -> Revealed:
        return reveal_secrets(where.platform, user, where, body, request)

    add = router.add_api_route
    add(prefix + "/vars", get_vars, methods=["GET"], name=f"{level}_vars")
    add(prefix + "/vars", set_vars, methods=["PATCH"], name=f"set_{level}_vars")
    add(prefix + "/secrets", get_secrets, methods=["GET"], name=f"{level}_secrets")
    add(prefix + "/secrets", set_secrets, methods=["PATCH"], name=f"set_{level}_secrets")
    add(prefix + "/secrets/reveal", reveal, methods=["POST"], name=f"reveal_{level}_secrets")
    for kind in ("var", "secret"):
        add(
            f"{prefix}/{kind}s/{{key}}",
            delete(kind),
            methods=["DELETE"],
            name=f"delete_{level}_{kind}",
            status_code=204,
            response_class=Response,
        )


_scope_routes(NETWORK, "network", network_scope)
_scope_routes(APP, "app", app_scope)
