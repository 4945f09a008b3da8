"""In-process topic pub/sub that threads can publish into.

Callbacks always run on the event loop the pub/sub is bound to (the server's loop),
in publish order per publishing thread. ``publish`` may be called from any thread;
from the loop's own thread it delivers immediately. What other threads publish waits in
one queue, drained by a single wake-up of the loop however much arrived meanwhile (a log
flood wakes it once per batch, not once per line).

A publisher that assigns sequence numbers (the log store) must publish while holding
the lock under which it assigned them, so that live order is seq order.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Callback = Callable[[str, dict[str, Any]], None]
"""``callback(event, payload)``, called on the loop thread; must not block."""


class Subscription:
    def __init__(self, pubsub: PubSub, topic: str, callback: Callback) -> None:
        self._pubsub, self.topic, self.callback = pubsub, topic, callback

    def unsubscribe(self) -> None:
        self._pubsub._remove(self)


class PubSub:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._topics: dict[str, list[Subscription]] = {}
        self._pending: deque[tuple[str, str, dict[str, Any]]] = deque()
        self._wake_up_due = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` from now on (the server does this at start-up)."""
        with self._lock:
            self._loop = loop
            self._wake_up_due = False

    def subscribe(self, topic: str, callback: Callback) -> Subscription:
        """Subscribe from the loop thread; binds to the running loop if not bound yet."""
        sub = Subscription(self, topic, callback)
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._topics.setdefault(topic, []).append(sub)
        return sub

    def publish(self, topic: str, event: str, payload: dict[str, Any]) -> None:
        with self._lock:
            loop = self._loop
            if loop is None or topic not in self._topics:
                return
            on_loop = _running_loop() is loop
            if not on_loop:
                self._pending.append((topic, event, payload))
                wake_up, self._wake_up_due = not self._wake_up_due, True
        if on_loop:
            self._deliver(topic, event, payload)
        elif wake_up:
            try:
                loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                with self._lock:
                    self._pending.clear()
                    self._wake_up_due = False

    def subscriber_count(self, topic: str) -> int:
        with self._lock:
            return len(self._topics.get(topic, ()))

    def _drain(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, deque()
            self._wake_up_due = False
        for topic, event, payload in pending:
            self._deliver(topic, event, payload)

    def _deliver(self, topic: str, event: str, payload: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._topics.get(topic, ()))
        for sub in subs:
            try:
                sub.callback(event, payload)
            except Exception:
                log.exception("subscriber of %s failed", topic)

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._topics.get(sub.topic, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._topics.pop(sub.topic, None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    # asyncio's lookup that returns None off the loop: get_running_loop() raises there, and
    # an exception for each line a thread publishes cost a log flood ~5 % of the platform's CPU
    return asyncio.events._get_running_loop()
