"""The Phoenix socket endpoint: ``/socket/websocket`` as a Starlette WebSocket route.

Wiring (in ``maxlocal/server.py``)::

    pubsub = PubSub()
    endpoint = SocketEndpoint(
        authenticate=lambda token: user_id_or_None,     # sync or async
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
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from maxlocal.realtime import protocol
from maxlocal.realtime.protocol import Message, ProtocolError, Version
from maxlocal.realtime.topics import JoinRefused, ServerChannel, Source, TopicHandler

log = logging.getLogger(__name__)

T = TypeVar("T")
Authenticate = Callable[[str], "str | Awaitable[str | None] | None"]
Authorize = Callable[[str, str], "bool | Awaitable[bool]"]

PATH = "/socket/websocket"


class SocketEndpoint:
    def __init__(
        self,
        *,
        authenticate: Authenticate,
        authorize: Authorize,
        handlers: Mapping[str, TopicHandler],
        idle_timeout: float = 60.0,
        max_queue: int = 10_000,
    ) -> None:
        self.authenticate, self.authorize = authenticate, authorize
        self.handlers = dict(handlers)
        self.idle_timeout, self.max_queue = idle_timeout, max_queue

    def route(self, path: str = PATH) -> WebSocketRoute:
        return WebSocketRoute(path, self.handle)

    def handler_for(self, topic: str) -> TopicHandler | None:
        for pattern, handler in self.handlers.items():
            if (pattern.endswith("*") and topic.startswith(pattern[:-1])) or topic == pattern:
                return handler
        return None

    async def handle(self, websocket: WebSocket) -> None:
        version = protocol.negotiate(websocket.query_params.get("vsn"))
        token = websocket.query_params.get("token", "")
        user_id = await _resolve(self.authenticate(token)) if token else None
        if version is None or user_id is None:
            await websocket.close(code=1008)  # before accept: the upgrade is refused with 403
            return
        await websocket.accept()
        await Connection(self, websocket, version, user_id).run()


class Connection:
    def __init__(
        self, endpoint: SocketEndpoint, websocket: WebSocket, version: Version, user_id: str
    ) -> None:
        self.endpoint, self.websocket, self.version, self.user_id = (
            endpoint,
            websocket,
            version,
            user_id,
        )
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

    def source_ready(self, source: Source) -> None:
        self.ready[source] = None
        self.wake.set()

    def frame(self, topic: str, join_ref: str | None) -> Callable[[str, str], str]:
        version = self.version
        return lambda event, payload: protocol.encode_raw(topic, event, payload, join_ref, version)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._write())]
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
        if reader in done and reader.exception() is not None:
            log.error("socket connection failed", exc_info=reader.exception())
            await self._close(1011, "internal error")
        elif reader in done and reader.result() == "idle":
            await self._close(1000, "idle timeout")
        elif self.overflowed.is_set():
            await self._close(1013, "too slow")

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
