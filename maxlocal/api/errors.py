"""Every error leaves the platform as {"error": {"code", "message", "hint"}}."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maxlocal.api.storage import storage_failure
from maxlocal.errors import PlatformError, TooManyRequests, Unauthorized

log = logging.getLogger("maxlocal")

_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid_request",
}
_BODY_NOT_OBJECT = {"model_attributes_type", "dict_type", "model_type", "missing"}


def error_response(
    status: int,
    code: str,
    message: str,
    hint: str = "",
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "hint": hint}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts)


def _describe(error: dict[str, Any]) -> str:
    field = _field(error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return f"unknown field '{field}'"
    if kind == "missing":
        return f"field '{field}' is required"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{field}: {message}" if field else message


def validation_response(request: Request, errors: Sequence[dict[str, Any]]) -> JSONResponse:
    content_type = request.headers.get("content-type", "application/json")
    for error in errors:
        if tuple(error.get("loc", ()))[:1] == ("body",) and "json" not in content_type:
            return error_response(
                400,
                "invalid_request",
                "the request body must be JSON (Content-Type: application/json)",
            )
        if error.get("type") == "json_invalid":
            return error_response(400, "invalid_request", "malformed JSON in the request body")
        if tuple(error.get("loc", ())) == ("body",) and error.get("type") in _BODY_NOT_OBJECT:
            return error_response(400, "invalid_request", "the request body must be a JSON object")
    message = "; ".join(_describe(e) for e in errors[:3])
    return error_response(422, "invalid_request", message)


async def _platform_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PlatformError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(exc.status, exc.code, exc.message, exc.hint, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_response(request, exc.errors())


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _CODES.get(status, "internal" if status >= 500 else "invalid_request")
    if status == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
        hint = "see /api/v1/openapi.json for the endpoints"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
        hint = ""
    else:
        message, hint = str(exc.detail), ""
    return error_response(status, code, message, hint, exc.headers)


class CatchAll:
    """Turns a bug into a logged traceback and a plain 500, keeping the connection usable.

    (Starlette's own handler for Exception answers too, but then re-raises, and the
    server drops the connection.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if scope["type"] != "http" or started:
                raise
            storage = storage_failure(exc)
            if storage is not None:
                log.error("%s %s: %s", scope["method"], scope["path"], storage.message)
                response = error_response(
                    storage.status, storage.code, storage.message, storage.hint
                )
            else:
                log.exception("unhandled error on %s %s", scope["method"], scope["path"])
                response = error_response(
                    500, "internal", "internal error in the platform", "see the server log"
                )
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(PlatformError, _platform_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
