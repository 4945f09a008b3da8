"""The platform connection state shown in the toolbar.

Until the realtime socket exists the name refresher reports here after each
poll; the socket client will call :meth:`Connection.set` on connect, disconnect
and reconnect attempts instead, with the same states.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

CONNECTED = "connected"
RECONNECTING = "reconnecting"
UNREACHABLE = "unreachable"
LOGGED_OUT = "not logged in"
UNKNOWN = "connecting"


class Connection:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = UNKNOWN
        self._detail = ""
        self._listeners: list[Callable[[], None]] = []

    @property
    def state(self) -> str:
        return self._state

    @property
    def detail(self) -> str:
        return self._detail

    def set(self, state: str, detail: str = "") -> None:
        with self._lock:
            changed = (state, detail) != (self._state, self._detail)
            self._state, self._detail = state, detail
            listeners = list(self._listeners)
        if changed:
            for listener in listeners:
                listener()

    def subscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)
