"""HTTP on the standard library for the API's JSON requests: one keep-alive connection, no extras.

A one-shot command makes one or two requests. ``import httpx`` costs ~140 ms (it imports
its own command line, and with it rich and click) and ``httpx.Client()`` builds a certifi
SSL context even for ``http://`` (~50 ms); ``http.client`` costs ~15 ms, and TLS is set
up only for ``https://``, with the verifying context the caller supplies.
Streamed uploads keep using httpx (:attr:`rig.transport.http.ApiClient.http`).

Failures are the standard ones: ``TimeoutError`` when the platform does not answer in
time, another ``OSError`` (``ssl.SSLError`` included) when it cannot be reached.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    import ssl

Params = Mapping[str, Any]
# A reused keep-alive connection the server has since closed fails in one of these ways
# before any answer arrives; the request is then sent again on a fresh connection.
STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class Headers(dict[str, str]):
    """Response headers, looked up whatever their case; repeated ones joined with ", "."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        for name, value in items:
            key = name.lower()
            super().__setitem__(key, f"{self[key]}, {value}" if key in self else value)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class Response:
    """What :meth:`Connection.request` returns, with the parts of ``httpx.Response`` rig uses."""

    def __init__(self, status_code: int, headers: Headers, content: bytes, url: str) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.url = url

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def query_string(params: Params | None) -> str:
    """``params`` as httpx encodes them: booleans as true/false, None as empty, lists repeated."""
    if not params:
        return ""
    pairs = []
    for key, value in params.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            pairs.append((key, _primitive(item)))
    return urlencode(pairs)


def json_body(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class Connection:
    """Requests to ``base_url`` (scheme, host, port and path prefix) on one kept-alive connection.

    Connecting waits at most ``connect_timeout`` seconds; each read at most ``timeout``.
    ``ssl_context`` makes the (verifying) context for ``https://``, when one is first needed.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        connect_timeout: float,
        headers: Mapping[str, str] | None = None,
        ssl_context: Callable[[], ssl.SSLContext] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout, self._connect_timeout = timeout, min(timeout, connect_timeout)
        self._headers = dict(headers or {})
        self._ssl_context = ssl_context
        self._conn: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        query = query_string(params)
        target = self._prefix + path + (f"?{query}" if query else "")
        all_headers = {**self._headers, **(headers or {})}
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        reused = self._conn is not None
        try:
            return self._exchange(method, target, body, all_headers)
        except STALE:
            self.close()
            if not reused:
                raise
        return self._exchange(method, target, body, all_headers)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _exchange(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> Response:
        conn = self._connection()
        try:
            conn.request(method, target, body=body, headers=headers)
            answer = conn.getresponse()
            content = answer.read()
        except BaseException:
            self.close()
            raise
        if answer.will_close:
            self.close()
        scheme = "https" if self._https else "http"
        port = f":{self._port}" if self._port else ""
        url = f"{scheme}://{self._host}{port}{target}"
        return Response(answer.status, Headers(answer.getheaders()), content, url)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            conn: http.client.HTTPConnection
            if self._https:
                context = self._ssl_context() if self._ssl_context else None
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._connect_timeout, context=context
                )
            else:
                conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._connect_timeout
                )
            try:
                conn.connect()
            except BaseException:
                conn.close()
                raise
            assert conn.sock is not None
            conn.sock.settimeout(self._timeout)
            self._conn = conn
        return self._conn


def _primitive(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)
