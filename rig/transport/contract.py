"""The shape of a successful answer, as docs/api.md promises it, checked before a command uses it.

Every body is a JSON object or an array of objects; collections (``GET /networks``,
``PATCH .../vars``) are arrays, single resources and every ``POST`` answer are
objects. A platform that answers otherwise (a proxy's page with status 200, a
truncated or foreign body) gets a clear error instead of an odd table.
"""

from __future__ import annotations

from typing import Any

from rig.errors import RigError

COLLECTIONS = frozenset(
    {
        "networks",
        "apps",
        "vars",
        "secrets",
        "releases",
        "logs",
        "build",
        "tokens",
        "sessions",
        "audit",
        "registries",
    }
)
NAMED_IN = frozenset({"networks", "apps", "vars", "secrets", "releases", "tokens", "sessions"})
OBJECTS = frozenset({"me", "status", "health"})


def expected(method: str, path: str) -> type | None:
    """``list`` or ``dict`` for an answer whose shape the API fixes, else None."""
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    if not segments or method == "DELETE":
        return None
    last, before = segments[-1], segments[-2] if len(segments) > 1 else ""
    if method == "POST":
        return dict
    if method == "PATCH":
        return list
    if method != "GET":
        return None
    if before in NAMED_IN:
        return dict
    if last in COLLECTIONS:
        return list
    return dict if last in OBJECTS else None


def check(method: str, path: str, status: int, body: Any) -> Any:
    """``body`` if it has the promised shape; a RigError naming the request if not."""
    if status == 204 or method == "DELETE":
        return body
    shape = expected(method, path)
    problem = None
    if body is None:
        problem = "an empty body"
    elif not isinstance(body, (dict, list)):
        problem = f"a JSON {type(body).__name__}"
    elif shape is not None and not isinstance(body, shape):
        problem = "an object" if isinstance(body, dict) else "an array"
    elif isinstance(body, list) and not all(isinstance(item, dict) for item in body):
        problem = "an array of things that are not objects"
    if problem is None:
        return body
    raise RigError(
        f"the platform answered {method} {path} ({status}) with {problem}, not what the API says",
        hint="is --api pointing at a Max platform? Check the platform's logs",
        code="bad_response",
    )
