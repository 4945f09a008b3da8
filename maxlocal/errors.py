"""Failures the platform reports to clients, each with its HTTP status and error code."""

from __future__ import annotations


class PlatformError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InvalidRequest(PlatformError):
    status = 422
    code = "invalid_request"


class Unauthorized(PlatformError):
    status = 401
    code = "unauthorized"


class TokenExpired(Unauthorized):
    code = "token_expired"


class NotFound(PlatformError):
    status = 404
    code = "not_found"


class AlreadyExists(PlatformError):
    status = 409
    code = "already_exists"


class Conflict(PlatformError):
    status = 409
    code = "conflict"
