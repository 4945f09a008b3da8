"""The realtime topics and events of docs/api.md ("Realtime"), named once.

The ``exec:`` topics of remote sessions are named by :mod:`rig.transport.remote`, the one
module that speaks that protocol."""

from __future__ import annotations

STATUS_TOPIC = "status:user"
STATUS_EVENTS = ("created", "deleted", "app_state", "release")
RELEASE_EVENT = "release"
LOG_KINDS = ("app", "build", "network")


def log_topic(kind: str, network: str, app: str | None = None) -> str:
    """The topic of an app's output (``app``), its builds (``build``) or a network's log."""
    if app is None:
        return f"logs:network:{network}"
    return f"logs:{kind}:{network}/{app}"
