"""What every request to the platform's own app passes: the Host check against DNS
rebinding, and the headers that keep any HTML page of the platform out of other sites' frames.

DNS rebinding: a web page whose name an attacker points at 127.0.0.1 is, to the browser, the
same origin as the platform, and may send it requests and read the answers (the sign-in and
device endpoints, the metrics need no token). Such a request carries the attacker's name in
``Host``: the API answers only to the platform's own names. ``<app>.<network>.localhost``
never reaches here (the router in front takes it to the app).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maxlocal.api.errors import error_response
from maxlocal.errors import Misdirected

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
FRAME_HEADERS = {
    b"x-frame-options": b"DENY",
    b"content-security-policy": b"frame-ancestors 'none'",
}


def host_name(host: str) -> str:
    """``Host`` without its port, lower case, without a trailing dot (``[::1]`` keeps its
    brackets)."""
    name = host.strip().lower()
    name = name.partition("]")[0] + "]" if name.startswith("[") else name.partition(":")[0]
    return name.rstrip(".")


def platform_hosts(*names: str) -> frozenset[str]:
    """The names the API answers to: loopback's, and ``names`` (its domain, the address it
    listens on)."""
    own = {f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names if n}
    return frozenset({*LOOPBACK_NAMES, *(host_name(n) for n in own)})


class HostCheck:
    """Refuses a request for any other host: 421 with the error body (a socket: refused
    before the upgrade, which the client sees as 403)."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app, self.hosts = app, frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if host_name(host) in self.hosts:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": ""})
            return
        shown = host[:100] if host.isprintable() else "(unprintable)"
        refusal = Misdirected(
            f"this platform does not answer to host {shown!r}",
            f"use one of its own names: {', '.join(sorted(self.hosts))}",
        )
        # closed after the answer: a body sent with the request is not read, nor is the
        # connection kept for another request of a client this platform does not serve
        await error_response(
            refusal.status,
            refusal.code,
            refusal.message,
            refusal.hint,
            headers={"Connection": "close"},
        )(scope, receive, send)


class FrameGuard:
    """Adds ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'`` to any HTML answer that
    does not set its own policy (the API docs page; the device page sets a stricter one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    headers += [(k, v) for k, v in FRAME_HEADERS.items() if k not in names]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, guarded)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""
