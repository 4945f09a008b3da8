"""The API client: error mapping, transparent refresh and -v logging, on a mocked transport."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import httpx
import pytest

from rig.config import TlsSettings
from rig.errors import (
    AlreadyExistsError,
    AuthError,
    NotFoundError,
    RigError,
    UnreachableError,
    UsageError,
)
from rig.transport.http import ApiClient, Tokens, error_from_response

BASE = "http://platform.test"
PLAIN_HTTP = TlsSettings(plain_http_allowed=True)  # BASE is a made-up host, reached in memory


def error_body(code: str, message: str = "m", hint: str = "h") -> str:
    return json.dumps({"error": {"code": code, "message": message, "hint": hint}})


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "invalid_request", UsageError),
        (401, "unauthorized", AuthError),
        (401, "token_expired", AuthError),
        (403, "forbidden", AuthError),
        (404, "not_found", NotFoundError),
        (409, "already_exists", AlreadyExistsError),
        (409, "conflict", RigError),
        (413, "payload_too_large", UsageError),
        (422, "invalid_request", UsageError),
        (500, "internal", RigError),
    ],
)
def test_error_mapping(status: int, code: str, cls: type[RigError]) -> None:
    error = error_from_response(status, error_body(code, "the message", "the hint"), BASE)
    assert type(error) is cls
    assert (error.code, error.message, error.hint) == (code, "the message", "the hint")


@pytest.mark.parametrize(
    "body",
    ["", "<html>\n<body><h1>502 Bad Gateway</h1></body>\n</html>", "[1, 2]", "null", "{}"],
)
def test_error_bodies_that_are_not_the_api_error(body: str) -> None:
    error = error_from_response(502, body, BASE)
    assert error.message == "the platform answered 502 Bad Gateway"
    assert "\n" not in error.message + error.hint


def test_plain_text_error_is_kept_on_one_line() -> None:
    error = error_from_response(503, "down for\nmaintenance " + "x" * 1000, BASE)
    assert error.message.startswith("the platform answered 503 Service Unavailable: down for maint")
    assert "\n" not in error.message and len(error.message) <= 300


def test_401_without_hint_suggests_login() -> None:
    assert "rig login" in error_from_response(401, "", BASE).hint


Handler = Callable[[httpx.Request], httpx.Response]


def client_with(handler: Handler, tokens: Tokens | None, stored: list[Tokens]) -> ApiClient:
    transport = httpx.MockTransport(handler)
    return ApiClient(BASE, tokens, on_refresh=stored.append, transport=transport, tls=PLAIN_HTTP)


def session_body(n: int) -> dict[str, object]:
    return {"access_token": f"mxa_{n}", "refresh_token": f"mxr_{n}", "expires_in": 900}


def test_refresh_on_token_expired_and_retry() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path} {request.headers.get('authorization')}")
        if request.url.path.endswith("/auth/refresh"):
            assert json.loads(request.content) == {"refresh_token": "mxr_0"}
            return httpx.Response(200, json=session_body(1))
        if request.headers["authorization"] == "Bearer mxa_0":
            return httpx.Response(401, text=error_body("token_expired"))
        return httpx.Response(200, json=[{"name": "shop"}])

    stored: list[Tokens] = []
    client = client_with(handler, Tokens("mxa_0", "mxr_0", time.time() + 600), stored)
    assert client.get("/networks") == [{"name": "shop"}]
    assert seen == [
        "GET /api/v1/networks Bearer mxa_0",
        "POST /api/v1/auth/refresh None",
        "GET /api/v1/networks Bearer mxa_1",
    ]
    assert [t.access_token for t in stored] == ["mxa_1"]
    assert stored[0].refresh_token == "mxr_1" and stored[0].expires_at is not None


def test_refresh_ahead_of_expiry() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path.endswith("/auth/refresh"):
            return httpx.Response(200, json=session_body(1))
        return httpx.Response(204)

    stored: list[Tokens] = []
    client = client_with(handler, Tokens("mxa_0", "mxr_0", time.time() + 2), stored)
    assert client.delete("/networks/x") is None
    assert paths == ["/api/v1/auth/refresh", "/api/v1/networks/x"]
    assert len(stored) == 1


def test_failed_refresh_means_session_expired() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/refresh"):
            return httpx.Response(401, text=error_body("unauthorized"))
        return httpx.Response(401, text=error_body("token_expired"))

    client = client_with(handler, Tokens("mxa_0", "mxr_0", None), [])
    with pytest.raises(AuthError) as info:
        client.get("/me")
    assert "expired" in info.value.message and "rig login" in info.value.hint


def test_plain_401_is_not_refreshed() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(401, text=error_body("unauthorized", "token revoked", ""))

    client = client_with(handler, Tokens("mxa_0", "mxr_0", None), [])
    with pytest.raises(AuthError, match="token revoked"):
        client.get("/me")
    assert calls == ["/api/v1/me"]


def test_api_token_without_refresh() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text=error_body("token_expired"))

    with pytest.raises(AuthError):
        client_with(handler, Tokens("mxt_ci"), []).get("/me")


def test_connection_failures_are_unreachable() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    for handler in (refused, slow):
        with pytest.raises(UnreachableError) as info:
            client_with(handler, None, []).get("/health")
        assert BASE in info.value.message and "rig local start" in info.value.hint


def test_non_json_success_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>hello</html>")

    with pytest.raises(RigError, match="not JSON"):
        client_with(handler, None, []).get("/networks")


def test_verbose_log_has_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/refresh"):
            return httpx.Response(200, json=session_body(1))
        return httpx.Response(200, json=[])

    client = client_with(handler, Tokens("mxa_0", "mxr_0", 0), [])
    with caplog.at_level(logging.INFO, logger="rig.http"):
        client.patch("/networks/shop/secrets", {"secrets": {"K": "hunter2"}})
    text = caplog.text
    assert "PATCH http://platform.test/api/v1/networks/shop/secrets -> 200" in text
    assert "POST http://platform.test/api/v1/auth/refresh -> 200" in text
    for secret in ("hunter2", "mxa_", "mxr_", "Bearer"):
        assert secret not in text


def test_tokens_repr_hides_tokens() -> None:
    assert "mxa_" not in repr(Tokens("mxa_secret", "mxr_secret", 1.0))
