"""``GET /audit`` and ``GET /sessions``: the caller's audit trail and live remote sessions.

Include with ``app.include_router(audit.router(trail, sessions), prefix="/api/v1")``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from maxlocal.api.deps import UserDep
from maxlocal.audit import AuditTrail
from maxlocal.errors import InvalidRequest
from maxlocal.remote.sessions import SessionManager
from maxlocal.store.audit import AuditRow

DURATION = re.compile(r"(\d+(?:\.\d+)?)(s|m|h|d)")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class SessionOut(BaseModel):
    id: str
    network: str
    app: str | None
    kind: str
    command: str
    started_at: str
    pid: int


def parse_since(value: str) -> str:
    """An RFC 3339 time or a duration ago (``30s``, ``10m``, ``2h``, ``1d``), as stored times
    are written: ``YYYY-MM-DDTHH:MM:SSZ``."""
    text = value.strip()
    match = DURATION.fullmatch(text)
    if match:
        moment = datetime.now(UTC) - timedelta(**{UNITS[match[2]]: float(match[1])})
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest(
                f"since: {value!r} is neither an RFC 3339 time nor a duration such as 10m"
            ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def router(trail: AuditTrail, sessions: SessionManager) -> APIRouter:
    api = APIRouter(tags=["remote"])

    @api.get("/audit")
    def audit(
        user: UserDep,
        network: Annotated[str | None, Query(description="only sessions in this network")] = None,
        app: Annotated[str | None, Query(description="only sessions on this app")] = None,
        since: Annotated[
            str | None, Query(description="an RFC 3339 time or a duration: 30s, 10m, 2h, 1d")
        ] = None,
    ) -> list[AuditRow]:
        """The caller's remote sessions, oldest first: commands with their command line
        (secret values masked), shells with their start, end and exit code."""
        since = parse_since(since) if since else None
        return trail.log.of_user(user.id, network=network, app=app, since=since)

    @api.get("/sessions")
    def live_sessions(user: UserDep) -> list[SessionOut]:
        """The caller's remote sessions running now."""
        return [
            SessionOut(
                id=info.id,
                network=info.target.partition("/")[0],
                app=info.target.partition("/")[2] or None,
                kind=info.kind,
                command=info.command,
                started_at=info.started_at,
                pid=info.pid,
            )
            for info in sessions.live(str(user.id))
        ]

    return api
