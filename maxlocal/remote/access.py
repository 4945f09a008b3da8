"""Remote access as one part of the platform: its session manager, audit trail and socket
handler, and what an ``exec:*`` topic means on maxlocal. (Its HTTP routes, ``GET /audit`` and
``GET /sessions``, are ``maxlocal.api.audit``.)"""

from __future__ import annotations

from dataclasses import dataclass

from maxlocal.audit import AuditTrail
from maxlocal.errors import Conflict
from maxlocal.platform import Platform
from maxlocal.realtime.topics import JoinRefused
from maxlocal.remote.channel import ExecHandler
from maxlocal.remote.sessions import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_PER_USER, SessionManager
from maxlocal.remote.target import ResolveTarget, Target, parse_topic
from maxlocal.store.audit import AuditLog

EXEC_TOPICS = "exec:*"


@dataclass(frozen=True)
class RemoteAccess:
    sessions: SessionManager
    audit: AuditTrail
    handler: ExecHandler

    @classmethod
    def build(
        cls,
        platform: Platform,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_per_user: int = DEFAULT_MAX_PER_USER,
    ) -> RemoteAccess:
        sessions = SessionManager(idle_timeout=idle_timeout, max_per_user=max_per_user)
        audit = AuditTrail(AuditLog(platform.db))
        handler = ExecHandler(sessions, platform_targets(platform), audit)
        return cls(sessions, audit, handler)

    def close(self) -> None:
        """End every session (the platform is stopping)."""
        self.sessions.close()


def platform_targets(platform: Platform) -> ResolveTarget:
    """``exec:<network>/<app>`` and ``exec:network:<network>``: what the runtime driver says
    a session there runs with (``RuntimeDriver.exec_target``). Another user's network or app
    resolves to None (reported as not found)."""

    def resolve(user_id: str, topic: str) -> Target | None:
        ref = parse_topic(topic)
        network = platform.networks.get(int(user_id), ref.network) if ref else None
        if ref is None or network is None:
            return None
        app = platform.apps.get(network.id, ref.app) if ref.app is not None else None
        if ref.app is not None and app is None:
            return None
        try:
            return platform.runtime.exec_target(network, app)
        except Conflict as e:
            raise JoinRefused({"reason": e.message}) from None

    return resolve
