"""The shell's own socket: one Phoenix connection for the whole session, in a background thread.

It joins ``status:user`` and turns what it hears into two things: the toolbar's connection
state (:class:`status.Connection`), and :meth:`NameCache.invalidate` on every event about the
user's resources, so a network or app created from another terminal is completable at once.
While it is connected the name cache polls rarely; while it is down the cache polls as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rig.api.topics import STATUS_EVENTS, STATUS_TOPIC
from rig.errors import RigError
from rig.repl import status

if TYPE_CHECKING:
    from rig.api.client import Api
    from rig.repl.completion import NameCache
    from rig.transport.socket import ConnectionState, Payload


class ShellSocket:
    """``start()`` connects in a thread of its own (reconnecting as long as the shell runs);
    ``stop()`` leaves and closes. ``api_factory`` opens the API for the current login
    context; one is opened at every (re)connect for the platform's URL and a fresh token."""

    def __init__(
        self,
        api_factory: Callable[[], Api],
        cache: NameCache,
        connection: status.Connection,
        env: Mapping[str, str],
    ) -> None:
        self._api_factory = api_factory
        self._env = env
        self._cache = cache
        self._connection = connection
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self.events = 0
        self.joined = threading.Event()  # set while status:user is joined (events come then)

    def start(self) -> None:
        if self._thread is not None:
            return
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="rig-socket", daemon=True
        )
        self._thread.start()
        ready.wait(5)

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(3)
        self._thread = None
        self.joined.clear()
        self._cache.follow_socket(None)

    def restart(self) -> None:
        """After the login context changed: the same, on the new platform and token."""
        self.stop()
        self.start()

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main(loop, ready))
        finally:
            ready.set()
            loop.close()
            self._loop = None

    async def _main(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        self._stop = stop = asyncio.Event()
        self._loop = loop
        ready.set()
        try:
            api = self._api_factory()
        except RigError:  # not logged in: the name cache's polls say so in the toolbar
            return
        base_url = api.base_url
        api.close()
        from rig.api.live import open_socket

        socket = open_socket(base_url, self._params, self._env)
        socket.on_state(self._state)
        channel = socket.channel(STATUS_TOPIC)
        for event in STATUS_EVENTS:
            channel.on(event, self._event)
        channel.on_joined(self._joined)
        socket.connect()
        # A join that fails or times out is retried by the channel until it is left.
        join = asyncio.ensure_future(channel.join())
        join.add_done_callback(lambda task: task.cancelled() or task.exception())
        await stop.wait()
        join.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(channel.leave(), 1)
        await socket.disconnect()

    def _params(self) -> dict[str, Any]:
        """The socket's token, from a client opened now: tokens refreshed by commands (or the
        name cache) meanwhile are on disk, and this refreshes them too when they are due."""
        try:
            api = self._api_factory()
            try:
                return {"token": api.socket_token()}
            finally:
                api.close()
        except RigError:
            return {}

    def _joined(self, _response: Payload) -> None:
        """Events flow from now on; what changed before the join, a refresh picks up."""
        self.joined.set()
        self._cache.invalidate()

    def _state(self, state: ConnectionState) -> None:
        from rig.transport.socket import Connected, Reconnecting

        if isinstance(state, Connected):
            self._cache.follow_socket(True)
            self._connection.set(status.CONNECTED)
        elif isinstance(state, Reconnecting):
            self.joined.clear()
            self._cache.follow_socket(False)
            self._connection.set(status.RECONNECTING, state.reason)
        else:
            self.joined.clear()
            self._cache.follow_socket(False)

    def _event(self, _payload: Payload) -> None:
        self.events += 1
        self._cache.invalidate()
