"""What happens to a user's resources, told to whoever listens (the socket's ``status:user``).

The routers emit ``created`` and ``deleted`` (networks, apps); the realtime wiring adds the
runtime's app states and release progress. Listeners are called in the emitting thread and
must be quick."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("maxlocal")

Listener = Callable[[int, str, dict[str, Any]], object]
"""``listener(user_id, event, payload)``."""


class Events:
    def __init__(self) -> None:
        self.listeners: list[Listener] = []

    def emit(self, user_id: int, event: str, payload: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(user_id, event, payload)
            except Exception:
                log.exception("event listener failed")

    def resource(self, user_id: int, event: str, network: str, app: str | None = None) -> None:
        """``created``/``deleted`` of a network (``app`` None) or an app."""
        kind = "network" if app is None else "app"
        self.emit(user_id, event, {"kind": kind, "network": network, "app": app})
