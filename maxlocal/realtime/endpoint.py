"""The Phoenix socket endpoint: ``/socket/websocket`` as a Starlette WebSocket route.

Wiring (in ``maxlocal/server.py``)::

    pubsub = PubSub()
    endpoint = SocketEndpoint(
        authenticate=lambda token: user_id_or_Identity_or_None,     # sync or async
        recheck=lambda identity: identity_now_or_None,               # optional
        authorize=lambda user_id, topic: bool,          # sync or async
        handlers={"logs:*": FeedHandler(pubsub, feed),     # a log, sent from each place in it
                  "status:user": PubSubHandler(pubsub, pubsub_topic=lambda t, u: f"{t}:{u}")},
    )
    app.router.routes.append(endpoint.route())
    # at start-up, on the server's loop: pubsub.bind(asyncio.get_running_loop())

Behaviour follows ``Phoenix.Socket``: heartbeats on ``phoenix`` are answered; a join of a
topic no handler matches, and any push to a topic not joined, get ``{"reason": "unmatched
topic"}``; a duplicate join closes the old channel (``phx_close``) first; ``phx_leave`` is
answered ok and followed by ``phx_close``. A connection that sends no frame for
``idle_timeout`` seconds is closed (1000), as is one whose outgoing queue overflows (1013, so
the client comes back and resumes).

A socket lasts no longer than the credential it was opened with: ``revoke(keys)`` (from any
thread) closes at once (1008, "revoked") every connection whose ``Identity`` names one of
``keys``, which closes its channels and so ends what they run; each join asks ``recheck``
first, and at the identity's ``ends_at`` ``recheck`` says whether it goes on (a session
refreshed meanwhile) or the connection closes (1008, "session expired").

Sending: one writer per connection sends what is queued (replies, pushed events), then
takes frames from the channels' ready sources (log streams) — only as fast as the socket
takes them, so a slow client holds the sources back rather than the platform buffering for
it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from maxlocal.realtime import protocol
from maxlocal.realtime.protocol import Message, ProtocolError, Version
from maxlocal.realtime.topics import JoinRefused, ServerChannel, Source, TopicHandler

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Identity:
    """Who a connection is, and while what: ``keys`` name the credential for ``revoke``;
    ``ends_at`` (``time.time()``, None: never) is when ``recheck`` is asked again;
    ``credential`` is whatever ``recheck`` needs."""

    user_id: str
    keys: frozenset[str] = frozenset()
    ends_at: float | None = None
    credential: Any = field(default=None, compare=False)


Authenticate = Callable[[str], "str | Identity | Awaitable[str | Identity | None] | None"]
Recheck = Callable[[Identity], "Identity | Awaitable[Identity | None] | None"]
Authorize = Callable[[str, str], "bool | Awaitable[bool]"]

PATH = "/socket/websocket"
REVOKED = (1008, "revoked")
EXPIRED = (1008, "session expired")


class SocketEndpoint:
    def __init__(
        self,
        *,
        authenticate: Authenticate,
        authorize: Authorize,
        handlers: Mapping[str, TopicHandler],
        recheck: Recheck | None = None,
        idle_timeout: float = 60.0,
        max_queue: int = 10_000,
    ) -> None:
        self.authenticate, self.authorize, self.recheck = authenticate, authorize, recheck
        self.handlers = dict(handlers)
        self.idle_timeout, self.max_queue = idle_timeout, max_queue
        self.connections: set[Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def revoke(self, keys: Iterable[str]) -> None:
        """Close every connection opened with a credential ``keys`` names; from any thread."""
        loop, revoked = self._loop, frozenset(keys)
        if loop is not None and revoked:
            with contextlib.suppress(RuntimeError):  # the loop is closed: no connections left
                loop.call_soon_threadsafe(self._revoke, revoked)

    def _revoke(self, keys: frozenset[str]) -> None:
        for connection in list(self.connections):
            if connection.identity.keys & keys:
                connection.end(*REVOKED)

    def route(self, path: str = PATH) -> WebSocketRoute:
        return WebSocketRoute(path, self.handle)

    def handler_for(self, topic: str) -> TopicHandler | None:
        for pattern, handler in self.handlers.items():
            if (pattern.endswith("*") and topic.startswith(pattern[:-1])) or topic == pattern:
                return handler
        return None

    async def handle(self, websocket: WebSocket) -> None:
        self._loop = asyncio.get_running_loop()
        version = protocol.negotiate(websocket.query_params.get("vsn"))
        token = websocket.query_params.get("token", "")
        found = await _resolve(self.authenticate(token)) if token else None
        if version is None or found is None:
            await websocket.close(code=1008)  # before accept: the upgrade is refused with 403
            return
        identity = found if isinstance(found, Identity) else Identity(found)
        connection = Connection(self, websocket, version, identity)
        self.connections.add(connection)  # from here on, a revocation reaches it
        try:
            await websocket.accept()
            await connection.run()
        finally:
            self.connections.discard(connection)


class Connection:
    def __init__(
        self, endpoint: SocketEndpoint, websocket: WebSocket, version: Version, identity: Identity
    ) -> None:
        self.endpoint, self.websocket, self.version = endpoint, websocket, version
        self.identity, self.user_id = identity, identity.user_id
        self.ending: tuple[int, str] | None = None
        self._ended = asyncio.Event()
        self.channels: dict[str, tuple[ServerChannel, TopicHandler]] = {}
        self.outbox: deque[Message] = deque()
        self.ready: dict[Source, None] = {}  # in the order they became ready
        self.wake = asyncio.Event()
        self.overflowed = asyncio.Event()

    def send(self, msg: Message) -> None:
        """Queue a frame. When the queue is full the client is too slow: what is queued is
        still sent, nothing after it, and the connection is closed (1013) so that the client
        comes back and resumes from the last line it got."""
        if self.overflowed.is_set():
            return
        if len(self.outbox) >= self.endpoint.max_queue:
            self.overflowed.set()
        else:
            self.outbox.append(msg)
        self.wake.set()

    def end(self, code: int, reason: str) -> None:
        """Close the connection (its channels first) with ``code`` and ``reason``."""
        if self.ending is None:
            self.ending = (code, reason)
        self._ended.set()

    async def still_valid(self, lapse: tuple[int, str] = REVOKED) -> bool:
        """Whether the credential still holds (``recheck``); when not, the connection ends
        with ``lapse``."""
        if self.endpoint.recheck is None:
            return True
        now = await _resolve(self.endpoint.recheck(self.identity))
        if now is None or (now.ends_at is not None and now.ends_at <= time.time()):
            self.end(*lapse)
            return False
        self.identity = now
        return True

    def source_ready(self, source: Source) -> None:
        self.ready[source] = None
        self.wake.set()

    def frame(self, topic: str, join_ref: str | None) -> Callable[[str, str], str]:
        version = self.version
        return lambda event, payload: protocol.encode_raw(topic, event, payload, join_ref, version)

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._write()),
            asyncio.create_task(self._watch()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for channel, _handler in list(self.channels.values()):
                channel.close()
            self.channels.clear()
        reader = tasks[0]
        if self.ending is not None:
            await self._close(*self.ending)
        elif reader in done and reader.exception() is not None:
            log.error("socket connection failed", exc_info=reader.exception())
            await self._close(1011, "internal error")
        elif reader in done and reader.result() == "idle":
            await self._close(1000, "idle timeout")
        elif self.overflowed.is_set():
            await self._close(1013, "too slow")

    async def _watch(self) -> None:
        """Returns when the connection must end: ``end`` was called, or the identity's
        ``ends_at`` passed and ``recheck`` does not extend it."""
        while True:
            ends_at = self.identity.ends_at
            timeout = None if ends_at is None else max(ends_at - time.time(), 0.0)
            try:
                await asyncio.wait_for(self._ended.wait(), timeout)
                return
            except TimeoutError:
                if not await self.still_valid(EXPIRED):
                    return

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.websocket.close(code, reason)

    async def _read(self) -> str:
        while True:
            try:
                frame = await asyncio.wait_for(self.websocket.receive(), self.endpoint.idle_timeout)
            except TimeoutError:
                return "idle"
            if frame["type"] == "websocket.disconnect":
                return "disconnected"
            raw = frame.get("text") if frame.get("text") is not None else frame.get("bytes")
            try:
                msg = protocol.decode(raw or "", self.version)
            except ProtocolError as exc:
                log.info("dropping a malformed frame: %s", exc)
                continue
            await self._dispatch(msg)

    async def _write(self) -> None:
        """Queued messages first, then a round of the ready sources, until the queue
        overflows (once what was queued before is sent)."""
        send = self.websocket.send_text
        try:
            while True:
                if not self.outbox and not self.ready:
                    if self.overflowed.is_set():
                        return
                    self.wake.clear()
                    await self.wake.wait()
                while self.outbox:
                    await send(protocol.encode(self.outbox.popleft(), self.version))
                if self.overflowed.is_set():
                    return
                for source in list(self.ready):
                    frames = source.take()
                    if not frames:
                        self.ready.pop(source, None)
                    for text in frames:
                        if source.closed:
                            break
                        await send(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return

    async def _dispatch(self, msg: Message) -> None:
        if msg.topic == protocol.HEARTBEAT_TOPIC and msg.event == protocol.HEARTBEAT:
            self.send(protocol.reply(Message(msg.topic, msg.event, {}, msg.ref), "ok"))
        elif msg.event == protocol.JOIN:
            await self._join(msg)
        elif msg.event == protocol.LEAVE:
            self._leave(msg)
        elif msg.topic in self.channels:
            channel, handler = self.channels[msg.topic]
            answer = await handler.handle_in(channel, msg.event, msg.payload)
            if answer is not None:
                self.send(protocol.reply(msg, *answer))
        else:
            self._unmatched(msg)

    async def _join(self, msg: Message) -> None:
        if msg.topic in self.channels:
            self._close_channel(msg.topic)
        handler = self.endpoint.handler_for(msg.topic)
        if handler is None:
            self._unmatched(msg)
            return
        if not await self.still_valid():
            self.send(protocol.reply(msg, "error", {"reason": "unauthorized"}))
            return
        if not await _resolve(self.endpoint.authorize(self.user_id, msg.topic)):
            self.send(protocol.reply(msg, "error", {"reason": "unauthorized"}))
            return
        client = self.websocket.client
        channel = ServerChannel(
            msg.topic,
            msg.join_ref,
            self.user_id,
            msg.payload,
            self.send,
            client=f"{client.host}:{client.port}" if client else None,
            ready=self.source_ready,
            frame=self.frame(msg.topic, msg.join_ref),
        )
        try:
            response = await handler.join(channel, msg.payload)
        except JoinRefused as refusal:
            channel.close()
            self.send(protocol.reply(msg, "error", refusal.response))
            return
        except Exception:
            log.exception("join of %s failed", msg.topic)
            channel.close()
            self.send(protocol.reply(msg, "error", {"reason": "join crashed"}))
            return
        self.channels[msg.topic] = (channel, handler)
        self.send(protocol.reply(msg, "ok", response))
        await handler.joined(channel)

    def _leave(self, msg: Message) -> None:
        entry = self.channels.get(msg.topic)
        if entry is None:
            self.send(protocol.reply(msg, "ok"))
        elif entry[0].join_ref in (None, msg.join_ref):
            self.send(protocol.reply(msg, "ok"))
            self._close_channel(msg.topic)

    def _close_channel(self, topic: str) -> None:
        channel, _handler = self.channels.pop(topic)
        channel.close()
        self.send(Message(topic, protocol.CLOSE, {}, channel.join_ref, channel.join_ref))

    def _unmatched(self, msg: Message) -> None:
        self.send(
            protocol.reply(
                Message(msg.topic, msg.event, {}, msg.ref), "error", {"reason": "unmatched topic"}
            )
        )


async def _resolve(value: T | Awaitable[T]) -> T:
    if inspect.isawaitable(value):
        return await value
    return value
