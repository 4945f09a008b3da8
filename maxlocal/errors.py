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


class Forbidden(PlatformError):
    status = 403
    code = "forbidden"


class NotFound(PlatformError):
    status = 404
    code = "not_found"


class AlreadyExists(PlatformError):
    status = 409
    code = "already_exists"


class Conflict(PlatformError):
    status = 409
    code = "conflict"


class LengthRequired(PlatformError):
    status = 411
    code = "invalid_request"


class PayloadTooLarge(PlatformError):
    status = 413
    code = "payload_too_large"


class ChecksumMismatch(PlatformError):
    status = 422
    code = "checksum_mismatch"


class TooManyRequests(PlatformError):
    """Answered 429 with ``Retry-After: retry_after``."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, hint: str = "", *, retry_after: int) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class Misdirected(PlatformError):
    """A request for a host name that is not the platform's (DNS rebinding)."""

    status = 421
    code = "misdirected"


class RuntimeUnsupported(PlatformError):
    """What the platform's runtime driver cannot do (an image deploy on the process runtime):
    the message names the runtime that can, the hint how to start it."""

    status = 409
    code = "runtime_unsupported"


class RegistryUnreachable(PlatformError):
    """The container registry an image deploy names did not answer."""

    status = 502
    code = "registry_unreachable"
