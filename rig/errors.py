"""The exceptions rig raises, each carrying its exit code and a hint.

Handlers raise these; the entry point turns them into one line on stderr (or
an error JSON document under ``-o json``) and the exit code. Nothing else in
rig decides exit codes.
"""

from __future__ import annotations

from typing import Any


class ExitCode:
    OK = 0
    FAILURE = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    EXISTS = 5
    UNREACHABLE = 6
    TIMED_OUT = 124  # `rig command --timeout` expired, as timeout(1) exits
    NOT_EXECUTABLE = 126  # `rig run`'s command cannot be run, as shells exit
    COMMAND_NOT_FOUND = 127  # `rig run`'s command does not exist, as shells exit
    INTERRUPTED = 130


class RigError(Exception):
    """A failure the user can act on. ``code`` is the machine-readable name."""

    exit_code = ExitCode.FAILURE
    code = "failure"

    def __init__(self, message: str, hint: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "hint": self.hint}}


class UsageError(RigError):
    exit_code = ExitCode.USAGE
    code = "invalid_request"


class AuthError(RigError):
    exit_code = ExitCode.AUTH
    code = "unauthorized"


class NotFoundError(RigError):
    exit_code = ExitCode.NOT_FOUND
    code = "not_found"


class AlreadyExistsError(RigError):
    exit_code = ExitCode.EXISTS
    code = "already_exists"


class UnreachableError(RigError):
    exit_code = ExitCode.UNREACHABLE
    code = "unreachable"


class Interrupted(RigError):
    exit_code = ExitCode.INTERRUPTED
    code = "interrupted"
