"""Logging in and out: the token endpoints of docs/api.md ("Auth and tokens") and where a
session's tokens are kept (a login context, its credential store).

The other half of a session, finding the login a command runs with and the client it talks
through, is :mod:`rig.transport.session`; refreshing a token is the client's own business
(:meth:`rig.transport.http.ApiClient.refresh`).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rig import credentials
from rig.config import (
    ContextEntry,
    Contexts,
    TlsSettings,
    credential_store_setting,
    normalize_api_url,
)
from rig.errors import AuthError, RigError, UnreachableError, UsageError

if TYPE_CHECKING:
    from rig.transport.http import ApiClient


def login(
    api_url: str,
    *,
    context_name: str,
    email: str | None = None,
    password: str | None = None,
    token: str | None = None,
    tls: TlsSettings | None = None,
) -> dict[str, Any]:
    """Log in with an API token or an email and password; store the session as ``context_name``.

    The context becomes the current one. Returns ``{"context", "api", "user", "store"}``.
    """
    from rig.transport.http import ApiClient

    api = normalize_api_url(api_url)
    client = ApiClient(api, tls=tls)
    try:
        if token:
            body = client.post("/auth/token", {"token": token}, auth=False)
        elif email is not None and password is not None:
            body = client.post("/auth/login", {"email": email, "password": password}, auth=False)
        else:
            raise UsageError("login needs an API token or an email and password")
    finally:
        client.close()
    return _store_session(api, context_name, body, email)


def device_login(
    api_url: str,
    *,
    context_name: str,
    show: Callable[[dict[str, Any]], None],
    sleep: Callable[[float], None] = time.sleep,
    tls: TlsSettings | None = None,
) -> dict[str, Any]:
    """Log in with a code a person approves on the platform's page; store it as ``context_name``.

    ``show`` gets the platform's grant (``user_code``, ``verification_uri``, ``expires_in``)
    to tell the person; then the platform is polled until the code is approved or expires.
    """
    from rig.transport.http import ApiClient

    api = normalize_api_url(api_url)
    client = ApiClient(api, tls=tls)
    try:
        grant = client.post("/auth/device", {}, auth=False) or {}
        show(grant)
        body = _poll_device(client, grant, sleep)
    finally:
        client.close()
    return _store_session(api, context_name, body, None)


def _poll_device(
    client: ApiClient, grant: dict[str, Any], sleep: Callable[[float], None]
) -> dict[str, Any]:
    interval = float(grant.get("interval") or 5)
    deadline = time.monotonic() + float(grant.get("expires_in") or 600) + interval
    again = "run `rig login --device` again, and approve the code before it expires"
    while time.monotonic() < deadline:
        sleep(interval)
        try:
            body = client.post(
                "/auth/device/token", {"device_code": grant["device_code"]}, auth=False
            )
            return body if isinstance(body, dict) else {}
        except RigError as exc:
            if exc.code == "authorization_pending":
                continue
            if exc.code == "slow_down":
                interval += 5
                continue
            if exc.code == "access_denied":
                raise AuthError("the login was denied on the approval page", hint=again) from None
            if exc.code not in ("expired_token", "invalid_grant"):
                raise
            break
    raise AuthError("the code expired before it was approved; nothing was stored", hint=again)


def _store_session(api: str, context_name: str, body: Any, email: str | None) -> dict[str, Any]:
    from rig.transport.http import Tokens

    body = body if isinstance(body, dict) else {}
    tokens = Tokens.from_response(body)
    user = (body.get("user") or {}).get("email") or email

    contexts = Contexts.load()
    previous = contexts.get(context_name)
    store = _save_secret(context_name, tokens.to_dict())
    if previous is not None and previous.store != store:
        _forget_secret(context_name, previous.store)
    contexts.contexts[context_name] = ContextEntry(api=api, user=user, store=store)
    contexts.current = context_name
    contexts.save()
    return {"context": context_name, "api": api, "user": user, "store": store}


def logout(context_names: list[str], tls: TlsSettings | None = None) -> list[dict[str, Any]]:
    """End the sessions of these contexts: revoke on the platform when reachable, forget locally.

    The contexts themselves stay (so `rig login --context NAME` knows the API).
    One record per context: ``{"context", "api", "revoked", "note"}``.
    """
    contexts = Contexts.load()
    results = []
    for name in context_names:
        entry = contexts.require(name)
        secret = credentials.load(name, entry.store)
        revoked, note = _revoke(entry.api, secret, tls)
        credentials.delete(name, entry.store)
        results.append({"context": name, "api": entry.api, "revoked": revoked, "note": note})
    return results


def delete_context(name: str) -> dict[str, Any]:
    """Log out of ``name`` and remove it; if it was current, no context is current afterwards."""
    result = logout([name])[0]
    contexts = Contexts.load()
    contexts.contexts.pop(name, None)
    if contexts.current == name:
        contexts.current = None
    contexts.save()
    return result


def has_session(name: str, entry: ContextEntry) -> bool:
    try:
        return credentials.load(name, entry.store) is not None
    except RigError:
        return False


def default_context_name(api: str, contexts: Contexts) -> str:
    """The context a login to ``api`` goes to when none is named.

    A context already for that API; else ``default`` if free; else one named after the host.
    """
    existing = contexts.find_by_api(api)
    if existing:
        return existing
    if "default" not in contexts.contexts:
        return "default"
    parts = urlsplit(api)
    host = parts.hostname or "api"
    return re.sub(r"[^A-Za-z0-9.-]", "-", f"{host}-{parts.port}" if parts.port else host)


def _save_secret(name: str, secret: dict[str, Any]) -> str:
    """Store a login's tokens; an automatically chosen keyring that fails falls back to the file."""
    forced = bool(credential_store_setting())
    store = credentials.choose_store()
    try:
        credentials.save(name, store, secret)
    except RigError:
        if forced or store == credentials.FILE:
            raise
        store = credentials.FILE
        credentials.save(name, store, secret)
    return store


def _forget_secret(name: str, store: str) -> None:
    with contextlib.suppress(RigError):
        credentials.delete(name, store)


def _revoke(api: str, secret: dict[str, Any] | None, tls: TlsSettings | None) -> tuple[bool, str]:
    refresh_token = (secret or {}).get("refresh_token")
    if not refresh_token:
        return False, "no stored session"
    from rig.transport.http import ApiClient

    client = ApiClient(api, timeout=5.0, tls=tls)
    try:
        client.post("/auth/logout", {"refresh_token": refresh_token}, auth=False)
    except UnreachableError:
        return False, f"the platform at {api} is unreachable; the session was forgotten locally"
    except RigError as exc:
        return False, f"the platform refused to revoke the session ({exc.message})"
    finally:
        client.close()
    return True, ""
