"""The login a command runs with and the client it talks through: contexts and stored tokens
joined to transport.

``open_client`` finds the API and the credentials for a command; logging in and out is
:mod:`rig.api.auth`. Nothing here imports httpx until a client is actually needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rig import credentials
from rig.config import ContextEntry, Contexts, login_again, normalize_api_url
from rig.errors import AuthError, UsageError

if TYPE_CHECKING:
    from rig.context import Context
    from rig.transport.http import ApiClient, Tokens

LOGIN_HINT = "run `rig login`, or `rig local start` for a platform on this machine"


def env_token(env: Mapping[str, str]) -> str | None:
    """``RIG_TOKEN``: an API token that stands in for any stored login."""
    return env.get("RIG_TOKEN") or None


@dataclass
class Target:
    """What a command runs against: the API URL and the context whose tokens it uses (if any)."""

    api: str
    context: str | None
    entry: ContextEntry | None


def resolve_target(ctx: Context, contexts: Contexts | None = None) -> Target | None:
    """The API and context for ``ctx``'s options; None when nothing names an API.

    ``--context``/``RIG_CONTEXT`` names a context; ``--api``/``RIG_API`` names a URL,
    whose tokens come from the named context, else from any context for that URL
    (tokens are never sent to a URL they were not issued by).
    """
    contexts = contexts or Contexts.load()
    api = normalize_api_url(ctx.api_url) if ctx.api_url else None
    if ctx.context_name:
        entry = contexts.require(
            ctx.context_name,
            hint="run `rig context list` to see your contexts, or `rig login --context NAME`",
        )
        if api is None or api == entry.api:
            return Target(entry.api, ctx.context_name, entry)
        return Target(api, None, None)
    if api is not None:
        name = contexts.find_by_api(api)
        return Target(api, name, contexts.get(name) if name else None)
    if contexts.current:
        return Target(
            contexts.contexts[contexts.current].api,
            contexts.current,
            contexts.get(contexts.current),
        )
    return None


def open_client(ctx: Context) -> ApiClient:
    """The API client for a command, logged in, or an AuthError saying how to log in."""
    from rig.transport.http import ApiClient

    target = resolve_target(ctx)
    token = env_token(ctx.env)
    if token:
        if target is None:
            raise UsageError(
                "RIG_TOKEN is set but no API URL is known",
                hint="pass --api URL or set RIG_API",
            )
        from rig.transport.http import Tokens

        return ApiClient(target.api, Tokens(access_token=token), tls=ctx.tls)
    if target is None:
        raise AuthError("not logged in", hint=LOGIN_HINT)
    if target.context is None or target.entry is None:
        raise AuthError(
            f"not logged in to {target.api}", hint=f"run `rig login --api {target.api}`"
        )
    tokens = _load_tokens(target.context, target.entry)
    if tokens is None:
        raise AuthError(
            f"not logged in (context {target.context!r} has no stored session)",
            hint=f"run `{login_again(target.context)}`",
        )
    name, store = target.context, target.entry.store

    def store_refreshed(new: Tokens) -> None:
        credentials.save(name, store, new.to_dict())

    return ApiClient(target.api, tokens, on_refresh=store_refreshed, tls=ctx.tls)


def _load_tokens(name: str, entry: ContextEntry) -> Tokens | None:
    from rig.transport.http import Tokens

    secret = credentials.load(name, entry.store)
    if not secret or not secret.get("access_token"):
        return None
    expires = secret.get("expires_at")
    return Tokens(
        access_token=str(secret["access_token"]),
        refresh_token=secret.get("refresh_token"),
        expires_at=float(expires) if isinstance(expires, (int, float)) else None,
    )
