"""Host-header routing: ``<app>.<network>.localhost`` is proxied to the app's ``web`` process.

This is the in-process router, used only where the edge (``maxlocal.edge``: HAProxy in a
process of its own) is not installed: it shares the API's event loop, rebuilds each request
with an HTTP client and refuses WebSockets, so it is slow and partial, and the platform says
so (``router`` in health and ``rig local status``). Both forwarders answer from the same
route table (``maxlocal.edge.routes``) and the same texts (here).

``HostRouter`` wraps the platform's own ASGI app: requests for any other host (the
API, ``localhost``, an IP) go to the wrapped app untouched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


NOT_SERVING = (
    "No app is serving at {host}.\n"
    "If it is yours, see why with: rig status app {app} --network {network}\n"
)
"""The one answer (503) for every ``<app>.<network>.localhost`` that has no verified route:
no such app, no such network, stopped, never deployed, failed, restarting, a foreign
listener. It depends only on the name the visitor sent, so it tells a stranger nothing about
which tenants' names exist; the reason is for the owner (``rig status``, the app's log)."""
BAD_GATEWAY = (
    "The app at {host} closed or refused the connection.\n"
    "If it is yours, see its logs with: rig logs app {app} --network {network}\n"
)
GATEWAY_TIMEOUT = (
    "The app at {host} did not answer in time.\n"
    "If it is yours, see its logs with: rig logs app {app} --network {network}\n"
)
BAD_TARGET = "The request target must be a path (origin-form, e.g. /index.html).\n"


def origin_form(method: str, target: bytes) -> bool:
    """Whether ``target`` is a request target the router forwards: origin-form (``/path``), or
    ``*`` for ``OPTIONS`` (RFC 9112 3.2). Absolute-form (a proxy's request), authority-form
    (``CONNECT``) and anything else (``@127.0.0.1:PORT/path`` would steer an upstream URL's
    authority) are refused with 400: the router is no forward proxy."""
    return target.startswith(b"/") or (method == "OPTIONS" and target == b"*")


@dataclass(frozen=True)
class Unavailable:
    """Why an app cannot serve, for its owner (``message``: the app's log, tests). A visitor
    is answered ``NOT_SERVING`` whatever the reason (``public``)."""

    status: int
    message: str

    @staticmethod
    def public(network: str, app: str) -> tuple[int, str]:
        """What a visitor is answered: the same for every reason."""
        return 503, page(NOT_SERVING, network, app)

    @classmethod
    def unknown(cls, app: str, network: str) -> Unavailable:
        return cls(404, f"There is no app {app!r} in network {network!r}.")

    @classmethod
    def stopped(cls, app: str, network: str) -> Unavailable:
        return cls(
            503,
            f"App {app!r} in network {network!r} is stopped. Start it with: "
            f"rig start app {app} --network {network}",
        )

    @classmethod
    def failed(cls, app: str, network: str) -> Unavailable:
        return cls(
            503,
            f"App {app!r} in network {network!r} failed its deploy and has no running release. "
            f"See why with: rig status app {app} --network {network}",
        )

    @classmethod
    def not_deployed(cls, app: str, network: str) -> Unavailable:
        return cls(
            503,
            f"App {app!r} in network {network!r} has no running release yet. "
            f"Deploy it with: rig deploy --app {app} --network {network}",
        )

    @classmethod
    def foreign_listener(cls, app: str, network: str) -> Unavailable:
        return cls(
            503,
            f"App {app!r} in network {network!r} is not serving: the process listening on its "
            "port is not the app's own, so the platform does not forward to it. "
            f"See: rig status app {app} --network {network}",
        )


Resolve = Callable[[str, str], int | tuple[int, ...] | Unavailable]
"""The app's verified port, or its instances' ports in the order to try them."""


def parse_host(host: str) -> tuple[str, str] | None:
    """(network, app) for ``<app>.<network>.localhost[:port]``, else None."""
    name = host.strip().lower()
    if name.startswith("["):
        return None
    name = name.rsplit(":", 1)[0] if ":" in name else name
    labels = name.rstrip(".").split(".")
    if len(labels) != 3 or labels[2] != "localhost" or not labels[0] or not labels[1]:
        return None
    return labels[1], labels[0]


class HostRouter:
    """ASGI middleware. ``resolve(network, app)`` gives the app's port on 127.0.0.1 (or its
    instances' ports, the first to try first) or an ``Unavailable``; it is called for every
    request and must be quick. A refused connection is tried on the next port. ``served`` counts
    the requests each ``(network, app)`` answered."""

    def __init__(self, app: ASGIApp, resolve: Resolve, *, connect_timeout: float = 5.0) -> None:
        self.app = app
        self.resolve = resolve
        self.connect_timeout = connect_timeout
        self.served: Counter[tuple[str, str]] = Counter()
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = None
        if scope["type"] in ("http", "websocket"):
            target = parse_host(_header(scope, b"host") or "")
        if target is None:
            await self.app(scope, receive, send)
            return
        network, app = target
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011})
            return
        path = scope.get("raw_path") or scope["path"].encode("utf-8")
        if not origin_form(scope["method"], path):
            await _text(send, 400, BAD_TARGET)
            return
        resolved = self.resolve(network, app)
        if isinstance(resolved, Unavailable):
            await _text(send, *resolved.public(network, app))
            return
        ports = (resolved,) if isinstance(resolved, int) else resolved
        await self._proxy(scope, receive, send, ports, (network, app))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                trust_env=False,
                follow_redirects=False,
                timeout=httpx.Timeout(None, connect=self.connect_timeout),
            )
        return self._client

    async def _proxy(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        ports: tuple[int, ...],
        key: tuple[str, str],
    ) -> None:
        import httpx

        client = self._http()
        query = scope.get("query_string", b"")
        path = scope.get("raw_path") or scope["path"].encode("utf-8")
        target = path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        headers = _forward_headers(scope)
        content = _body(receive) if _has_body(scope) else None
        try:
            for n, port in enumerate(ports, 1):
                request = client.build_request(
                    scope["method"],
                    f"http://127.0.0.1:{port}{target}",
                    headers=headers,
                    content=content,
                )
                try:
                    response = await client.send(request, stream=True)
                    break
                except httpx.ConnectError:  # nothing was sent: another instance may take it
                    if n == len(ports):
                        raise
        except httpx.TransportError as exc:
            network, app = key
            timeout = isinstance(exc, httpx.TimeoutException)
            text = page(GATEWAY_TIMEOUT if timeout else BAD_GATEWAY, network, app)
            await _text(send, 504 if timeout else 502, text)
            return
        self.served[key] += 1
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP
                    ],
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.TransportError:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


def page(template: str, network: str, app: str) -> str:
    """One of the texts above for ``<app>.<network>.localhost``, its names as printable ASCII
    (they come from the visitor's Host header)."""

    def printable(name: str) -> str:
        return "".join(c for c in name[:63] if " " < c <= "~")

    app, network = printable(app), printable(network)
    return template.format(host=f"{app}.{network}.localhost", app=app, network=network)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _has_body(scope: Scope) -> bool:
    return any(k.lower() in (b"content-length", b"transfer-encoding") for k, _ in scope["headers"])


def _forward_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
    client = scope.get("client")
    client_ip = client[0] if client else ""
    previous = _header(scope, b"x-forwarded-for")
    forwarded_for = f"{previous}, {client_ip}" if previous else client_ip
    headers = [(k, v) for k, v in headers if not k.lower().startswith(b"x-forwarded-")]
    headers += [
        (b"x-forwarded-for", forwarded_for.encode("latin-1")),
        (b"x-forwarded-host", (_header(scope, b"host") or "").encode("latin-1")),
        (b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")),
    ]
    return headers


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


async def _text(send: Send, status: int, message: str) -> None:
    body = message.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
