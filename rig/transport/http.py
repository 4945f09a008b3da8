"""The Max API client: JSON over HTTP, bearer tokens refreshed transparently, errors as RigError.

This module knows the API's conventions (``/api/v1``, the error body, the
token endpoints) and nothing of commands, contexts or where tokens are kept:
whoever builds an :class:`ApiClient` passes the tokens in and a callback that
stores a refreshed pair.

With ``-v`` each request is logged to the ``rig.http`` logger as method, URL,
status and time. Headers and bodies are never logged.

Requests go over the standard library (:mod:`rig.transport.wire`), which a one-shot
command loads in a fraction of httpx's import time; httpx is imported only for
streamed uploads (:attr:`ApiClient.http`) or when a test hands in an httpx transport.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rig.config import TlsSettings
from rig.errors import (
    AlreadyExistsError,
    AuthError,
    NotFoundError,
    RigError,
    UnreachableError,
    UsageError,
)
from rig.transport import contract, wire
from rig.transport.security import (
    CONNECT_TIMEOUT,
    check_plain_http,
    ssl_context,
    tls_failure,
)

if TYPE_CHECKING:
    import ssl

    import httpx

API_PREFIX = "/api/v1"
REFRESH_MARGIN = 10.0  # seconds before expiry when a token is refreshed ahead of use
MAX_MESSAGE = 300


def httpx_module() -> ModuleType:
    """httpx, imported on first use: the one place rig imports it (~140 ms; only streamed
    uploads and tests' in-memory transports need it, a one-shot request goes over :mod:`wire`)."""
    import httpx

    return httpx


def log(message: str, *args: object) -> None:
    """Log to ``rig.http`` once anything has imported :mod:`logging` (``-v`` does; no listener
    can exist before): a one-shot command does not pay ~5 ms to import it for nothing."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("rig.http").info(message, *args)


@dataclass
class Tokens:
    """A session: access token, the refresh token to renew it, and when the access token expires.

    An API token used directly (``RIG_TOKEN``) has no refresh token and no expiry.
    """

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None

    @classmethod
    def from_response(cls, body: dict[str, Any], now: float | None = None) -> Tokens:
        try:
            expires_in = float(body.get("expires_in") or 0)
            return cls(
                access_token=str(body["access_token"]),
                refresh_token=body.get("refresh_token"),
                expires_at=((now or time.time()) + expires_in) if expires_in else None,
            )
        except (KeyError, TypeError, ValueError):
            raise RigError("the platform answered the login with an unexpected body") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
        }

    def __repr__(self) -> str:  # never show tokens, even in a debugger or traceback
        return f"Tokens(expires_at={self.expires_at!r})"


def unreachable_hint(base_url: str) -> str:
    return f"is the platform at {base_url} running? For a local one, run `rig local start`"


class ApiClient:
    def __init__(
        self,
        base_url: str,
        tokens: Tokens | None = None,
        *,
        on_refresh: Callable[[Tokens], None] | None = None,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
        tls: TlsSettings | None = None,
    ) -> None:
        """``tls``: the command's (``ctx.tls``); by default no plain http off this machine,
        certifi's CAs and the default timeout, which ``timeout`` overrides."""
        self.base_url = base_url.rstrip("/")
        self.tls = tls or TlsSettings()
        check_plain_http(self.base_url, self.tls)
        self.tokens = tokens
        self._on_refresh = on_refresh
        self._timeout = self.tls.timeout if timeout is None else timeout
        self._transport = transport
        self._http: httpx.Client | None = None
        self._wire = wire.Connection(
            self.base_url + API_PREFIX,
            timeout=self._timeout,
            connect_timeout=CONNECT_TIMEOUT,
            headers=_headers(),
            ssl_context=self.ssl_context,
        )

    def ssl_context(self) -> ssl.SSLContext:
        """The verifying TLS context for this client's settings (also the socket's)."""
        return ssl_context(self.tls)

    def close(self) -> None:
        self._wire.close()
        if self._http is not None:
            self._http.close()

    def get(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any] | None = None, *, auth: bool = True) -> Any:
        return self.request("POST", path, body=body, auth=auth)

    def patch(
        self, path: str, body: dict[str, Any], *, params: dict[str, Any] | None = None
    ) -> Any:
        return self.request("PATCH", path, body=body, params=params)

    def delete(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
    ) -> Any:
        """Send one request and return its JSON body (None when empty); raise a RigError on failure.

        With ``auth``, a token about to expire is refreshed first, and a 401
        ``token_expired`` answer is refreshed and retried once.
        """
        response = self.send(method, path, body=body, params=params, auth=auth)
        return contract.check(method, path, response.status_code, _json_body(response))

    def send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
    ) -> wire.Response:
        """As :meth:`request`, but the response itself, for callers that need its headers."""
        if auth and self._should_refresh():
            self.refresh()
        response = self._send(method, path, body, params, auth)
        if (
            auth
            and response.status_code == 401
            and self._can_refresh()
            and _error_body(response).get("code") == "token_expired"
        ):
            self.refresh()
            response = self._send(method, path, body, params, auth)
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.text, self.base_url)
        return response

    @property
    def http(self) -> httpx.Client:
        """An httpx client (base URL ``/api/v1``) for streamed uploads, made on first use."""
        if self._http is None:
            httpx = httpx_module()
            self._http = httpx.Client(
                base_url=self.base_url + API_PREFIX,
                timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, CONNECT_TIMEOUT)),
                headers=_headers(),
                transport=self._transport,
                verify=self.ssl_context() if self.base_url.startswith("https:") else True,
            )
        return self._http

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header for a request sent on :attr:`http`, refreshed if due."""
        if self._should_refresh():
            self.refresh()
        if self.tokens is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens.access_token}"}

    def refresh(self) -> None:
        """Trade the refresh token for a new pair and hand it to ``on_refresh``."""
        assert self.tokens is not None and self.tokens.refresh_token
        response = self._send(
            "POST", "/auth/refresh", {"refresh_token": self.tokens.refresh_token}, None, False
        )
        if response.status_code in (400, 401, 403, 422):
            raise AuthError("your session has expired", hint="run `rig login` to log in again")
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.text, self.base_url)
        self.tokens = Tokens.from_response(_json_body(response) or {})
        if self._on_refresh is not None:
            self._on_refresh(self.tokens)

    def _can_refresh(self) -> bool:
        return self.tokens is not None and bool(self.tokens.refresh_token)

    def _should_refresh(self) -> bool:
        tokens = self.tokens
        if tokens is None or not tokens.refresh_token or tokens.expires_at is None:
            return False
        return time.time() >= tokens.expires_at - REFRESH_MARGIN

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        params: dict[str, Any] | None,
        auth: bool,
    ) -> wire.Response:
        headers = {}
        if auth and self.tokens is not None:
            headers["Authorization"] = f"Bearer {self.tokens.access_token}"
        url = self.base_url + API_PREFIX + path
        start = time.monotonic()
        try:
            response = self._exchange(method, path, body, params, headers)
        except TimeoutError:
            log("%s %s -> timeout after %.0f ms", method, url, _ms(start))
            raise UnreachableError(
                f"the platform at {self.base_url} did not answer in time",
                hint=unreachable_hint(self.base_url),
            ) from None
        except OSError as exc:
            log("%s %s -> %s after %.0f ms", method, url, type(exc).__name__, _ms(start))
            tls = tls_failure(self.base_url, exc)
            if tls is not None:
                raise tls from None
            raise UnreachableError(
                f"cannot reach the platform at {self.base_url}",
                hint=unreachable_hint(self.base_url),
            ) from None
        log("%s %s -> %d (%.0f ms)", method, str(response.url), response.status_code, _ms(start))
        return response

    def _exchange(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        params: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> wire.Response:
        """One request: on :mod:`wire`, or on httpx when a transport was given (tests).

        Failures come out as the standard ``TimeoutError`` and ``OSError`` either way.
        """
        if self._transport is None:
            content = None if body is None else wire.json_body(body)
            return self._wire.request(method, path, body=content, params=params, headers=headers)
        httpx = httpx_module()
        try:
            r = self.http.request(method, path, json=body, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise TimeoutError(str(exc)) from exc
        except httpx.TransportError as exc:
            raise ConnectionError(str(exc)) from exc
        return wire.Response(r.status_code, wire.Headers(r.headers.items()), r.content, str(r.url))


def error_from_response(status: int, text: str, base_url: str = "") -> RigError:
    """The RigError for an error answer, its message and hint taken from the platform's body."""
    error = _parse_error(text)
    code = str(error.get("code") or "")
    message = _one_line(str(error.get("message") or "")) or _fallback_message(status, text)
    hint = _one_line(str(error.get("hint") or ""))
    cls: type[RigError]
    if status in (401, 403) or code == "rate_limited":  # sign-in refused for now: not logged in
        cls = AuthError
        if status == 401 and not hint:
            hint = "run `rig login`"
    elif status == 404:
        cls = NotFoundError
    elif status == 409 and code in ("already_exists", ""):
        cls = AlreadyExistsError
    elif status in (400, 413, 422):
        cls = UsageError
    else:
        cls = RigError
        if status >= 500 and not hint and base_url:
            hint = f"the platform at {base_url} failed; try again, or check its logs"
    return cls(message, hint, code=code or None)


def _parse_error(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if isinstance(data, dict):
        inner = data.get("error")
        if isinstance(inner, dict):
            return inner
        if isinstance(data.get("detail"), str):
            return {"message": data["detail"]}
    return {}


def _fallback_message(status: int, text: str) -> str:
    """A clean line for a body that is not the API's error JSON (HTML from a proxy, empty, ...)."""
    message = f"the platform answered {status} {_reason(status)}"
    stripped = text.strip()
    if not stripped or stripped.startswith("<") or _is_json(stripped):
        return message
    return _one_line(f"{message}: {stripped}")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def _error_body(response: wire.Response) -> dict[str, Any]:
    return _parse_error(response.text)


def _json_body(response: wire.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise RigError(
            f"the platform answered {response.status_code} with a body that is not JSON",
            hint="is --api pointing at a Max platform?",
        ) from None


def _ms(start: float) -> float:
    return (time.monotonic() - start) * 1000


def _headers() -> dict[str, str]:
    return {"Accept": "application/json", "User-Agent": _user_agent()}


def _user_agent() -> str:
    from rig import __version__

    return f"rig/{__version__}"
