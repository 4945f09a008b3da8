"""Remote access as one part of the platform: its session manager, audit trail and socket
handler, and what an ``exec:*`` topic means on maxlocal. (Its HTTP routes, ``GET /audit`` and
``GET /sessions``, are ``maxlocal.api.audit``.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from maxlocal.audit import AuditTrail
from maxlocal.platform import Platform
from maxlocal.realtime.topics import JoinRefused
from maxlocal.remote.channel import ExecHandler
from maxlocal.remote.sessions import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_PER_USER, SessionManager
from maxlocal.remote.target import ResolveTarget, Target, parse_topic
from maxlocal.runtime.proc import child_env
from maxlocal.store.audit import AuditLog
from maxlocal.store.env import Scope
from maxlocal.strays import MARKER_VAR

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
    """``exec:<network>/<app>``: the app's active release directory and the environment that
    release runs with (vars and secrets as of the release); ``exec:network:<network>``: the
    network's working directory (``<data>/networks/<network>``) and its own vars and secrets.
    Processes carry the platform's marker, so strays are found after a crash. Another user's
    network or app resolves to None (reported as not found)."""
    runtime, vault = platform.runtime, platform.vault
    extra = {MARKER_VAR: runtime.marker}

    def resolve(user_id: str, topic: str) -> Target | None:
        ref = parse_topic(topic)
        network = platform.networks.get(int(user_id), ref.network) if ref else None
        if ref is None or network is None:
            return None
        if ref.app is None:
            entries = platform.env.entries(Scope(network.id))
            values = {e.key: e.value or "" for e in entries if e.kind == "var"}
            secrets = {
                e.key: vault.decrypt(e.ciphertext or b"") for e in entries if e.kind == "secret"
            }
            cwd = runtime.layout.network_dir(network.name)
            home = runtime.layout.home(network.name)
            env = child_env({**values, **secrets, **extra}, home=home)
            box = runtime.network_sandbox(network.id, cwd, home)
            cgroup = runtime.session_cgroup(network.name, None)
            return Target(cwd, env, network.name, tuple(secrets.values()), box, cgroup)
        app = platform.apps.get(network.id, ref.app)
        if app is None:
            return None
        release = platform.releases.get(app.id, app.release) if app.release else None
        if release is None:
            raise JoinRefused({"reason": f"app '{app.name}' has no release yet: deploy it first"})
        directory: Path = runtime.layout.release_dir(
            app.network, app.name, release.artifact_release
        )
        secrets = {k: vault.decrypt(v.encode("ascii")) for k, v in release.env.secrets.items()}
        home = runtime.layout.home(app.network, app.name)
        env = child_env({**release.env.vars, **secrets, **extra}, directory, home=home)
        box = runtime.app_sandbox(app, directory)
        label, cgroup = f"{app.name}.{app.network}", runtime.session_cgroup(app.network, app)
        return Target(directory, env, label, tuple(secrets.values()), box, cgroup)

    return resolve
