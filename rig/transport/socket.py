"""A Phoenix Channels client (asyncio, on ``websockets``), faithful to phoenix.js 1.8.

One ``Socket`` carries many ``Channel``s. The socket reconnects by itself (10 ms … 5 s),
heartbeats every 30 s and treats a heartbeat left unanswered until the next is due as a dead
connection; channels rejoin after every reconnect with a fresh ``join_ref`` (and retry failed
joins after 1, 2, 5, then 10 s), and messages carrying an older ``join_ref`` are dropped.
``params`` (socket) and a channel's params are callables, re-read on every (re)connect and
(re)join: that is how a refreshed token, or a resume position, gets used.

    async with Socket(base_url, lambda: {"token": token}) as socket:
        channel = socket.channel("status:user")
        channel.on("app_state", lambda payload: ...)
        await channel.join()

Following logs (gapless resume, de-duplication, the sync facade) is in ``follow.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from rig.config import TlsSettings
from rig.transport.security import ssl_context

log = logging.getLogger(__name__)

VSN = "2.0.0"
DEFAULT_TIMEOUT = 10.0
HEARTBEAT_INTERVAL = 30.0
WS_CLOSE_NORMAL = 1000
# Frames read ahead of the consumer before reading pauses (websockets: 16): a log flood is
# taken in large batches rather than 16 frames per wake-up.
MAX_QUEUE = 4096

Payload = dict[str, Any]
Params = Callable[[], Mapping[str, Any]]


class _Connection(ClientConnection):
    """websockets' client connection, except that once the closing handshake has begun (the
    server's close frame answered) it waits no longer than ``close_timeout`` for the server to
    close TCP, then drops the connection itself. websockets enforces that deadline only when
    the client sends: a follow only reads, so it waited for its next heartbeat (30 s) when
    what is between it and the server never passed the server's TCP close on."""

    _close_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.close_deadline is not None and self._close_timer is None:
            self._close_timer = self.loop.call_at(self.close_deadline, self.transport.abort)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
        super().connection_lost(exc)


def reconnect_after(tries: int) -> float:
    """phoenix.js's reconnect schedule, in seconds, for the ``tries``-th attempt (from 1)."""
    steps = (0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.0)
    return steps[tries - 1] if tries <= len(steps) else 5.0


def rejoin_after(tries: int) -> float:
    """phoenix.js's rejoin schedule after a failed join, in seconds."""
    steps = (1.0, 2.0, 5.0)
    return steps[tries - 1] if tries <= len(steps) else 10.0


def socket_url(base_url: str, params: Mapping[str, Any]) -> str:
    """``http(s)://host[/prefix]`` -> ``ws(s)://host[/prefix]/socket/websocket?vsn=2.0.0&...``."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    query = urlencode({"vsn": VSN, **{k: str(v) for k, v in params.items()}})
    return urlunsplit(
        (scheme, parts.netloc, parts.path.rstrip("/") + "/socket/websocket", query, "")
    )


def encode(join_ref: str | None, ref: str | None, topic: str, event: str, payload: Payload) -> str:
    return json.dumps([join_ref, ref, topic, event, payload])


def decode(raw: str | bytes) -> tuple[str | None, str | None, str, str, Payload]:
    join_ref, ref, topic, event, payload = json.loads(raw)[:5]
    return join_ref, ref, topic, event, payload


@dataclass(frozen=True)
class Reply:
    status: str
    response: Payload = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class PushTimeout(TimeoutError):
    """No reply came within the push's timeout."""


class JoinError(Exception):
    """The server refused a join; ``response`` is what it said (e.g. ``{"reason": ...}``)."""

    def __init__(self, topic: str, response: Payload) -> None:
        super().__init__(f"join of {topic} refused: {response.get('reason', response)}")
        self.topic, self.response = topic, response


class SocketClosed(ConnectionError):
    """The socket closed for good (disconnect, or a normal close by the server)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"socket closed ({code}{': ' + reason if reason else ''})")
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class Connected:
    pass


def close_meaning(code: int) -> str:
    """What a close frame without a reason means, so a notice never says "lost ()"."""
    meanings = {
        1000: "closed by the platform",
        1001: "the platform is shutting down",
        1011: "platform error",
        1012: "the platform is restarting",
    }
    return meanings.get(code, f"closed with code {code}")


@dataclass(frozen=True)
class Reconnecting:
    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True)
class Closed:
    code: int | None
    reason: str


ConnectionState = Connected | Reconnecting | Closed


class _Timer:
    """phoenix.js's Timer: the n-th consecutive schedule waits ``after(n)``; reset restarts."""

    def __init__(self, callback: Callable[[], None], after: Callable[[int], float]) -> None:
        self._callback, self._after = callback, after
        self.tries = 0
        self._handle: asyncio.TimerHandle | None = None

    def reset(self) -> None:
        self.tries = 0
        self.cancel()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def schedule(self) -> None:
        self.cancel()
        self._handle = asyncio.get_running_loop().call_later(
            self._after(self.tries + 1), self._fire
        )

    def _fire(self) -> None:
        self._handle = None
        self.tries += 1
        self._callback()


class _Push:
    def __init__(self, channel: Channel, event: str, payload: Params, timeout: float) -> None:
        self.channel, self.event, self.payload, self.timeout = channel, event, payload, timeout
        self.ref: str | None = None
        self.future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._timer: asyncio.TimerHandle | None = None
        self.on_reply: Callable[[Reply], None] | None = None
        self.on_timeout: Callable[[], None] | None = None

    def start_timeout(self) -> None:
        """A new ref and a fresh timeout (as phoenix.js, again on each send)."""
        self.cancel()
        self.ref = self.channel.socket.make_ref()
        self.channel._pending[self.ref] = self
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self._timed_out)

    def send(self) -> None:
        if self.future.done():
            return
        self.start_timeout()
        self.channel.socket._push(
            self.channel.join_ref, self.ref, self.channel.topic, self.event, dict(self.payload())
        )

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.ref is not None:
            self.channel._pending.pop(self.ref, None)

    def reply(self, reply: Reply) -> None:
        self.cancel()
        if self.on_reply is not None:
            self.on_reply(reply)
        elif not self.future.done():
            self.future.set_result(reply)

    def _timed_out(self) -> None:
        self._timer = None
        self.cancel()
        if self.on_timeout is not None:
            self.on_timeout()
        elif not self.future.done():
            self.future.set_exception(PushTimeout(f"{self.event} on {self.channel.topic}"))


class Channel:
    """A topic on a socket: created by ``Socket.channel``, joined once, left once."""

    def __init__(self, socket: Socket, topic: str, params: Params) -> None:
        self.socket, self.topic, self.params = socket, topic, params
        self.state = "closed"
        self.joined_once = False
        self._bindings: list[tuple[str, int, Callable[[Payload], None]]] = []
        self._binding_ref = 0
        self._pending: dict[str, _Push] = {}
        self._buffer: list[_Push] = []
        self._join_push: _Push | None = None
        self._first_join: asyncio.Future[Payload] | None = None
        self._closed = asyncio.Event()
        self._on_joined: list[Callable[[Payload], None]] = []
        self._rejoin_timer = _Timer(self._rejoin_due, socket.rejoin_after)

    @property
    def join_ref(self) -> str | None:
        return self._join_push.ref if self._join_push else None

    def on(self, event: str, callback: Callable[[Payload], None]) -> int:
        """Call ``callback(payload)`` for each ``event`` here; returns a ref for ``off``."""
        self._binding_ref += 1
        self._bindings.append((event, self._binding_ref, callback))
        return self._binding_ref

    def off(self, event: str, ref: int | None = None) -> None:
        self._bindings = [b for b in self._bindings if not (b[0] == event and ref in (None, b[1]))]

    def on_joined(self, callback: Callable[[Payload], None]) -> None:
        """Call ``callback(response)`` after every successful (re)join, before its pushes."""
        self._on_joined.append(callback)

    async def join(self, timeout: float | None = None) -> Payload:
        """Join; returns the server's ok response. On an error reply raises ``JoinError``, on
        no reply ``PushTimeout`` — and, as phoenix.js, keeps retrying until ``leave``."""
        if self.joined_once:
            raise RuntimeError(f"{self.topic}: join can only be called once per channel")
        self.joined_once = True
        loop = asyncio.get_running_loop()
        self._first_join = loop.create_future()
        self._first_join.add_done_callback(_retrieve)
        self._join_push = _Push(self, "phx_join", self.params, timeout or self.socket.timeout)
        self._join_push.on_reply = self._join_replied
        self._join_push.on_timeout = self._join_timed_out
        self._rejoin()
        return await asyncio.shield(self._first_join)

    async def push(
        self, event: str, payload: Payload | None = None, timeout: float | None = None
    ) -> Reply:
        """Send ``event`` and return the reply. While not joined the push waits in a buffer; it
        times out ``timeout`` seconds after being made (then, once sent, after being sent)."""
        if not self.joined_once:
            raise RuntimeError(f"push of {event!r} to {self.topic} before joining")
        body = payload or {}
        push = _Push(self, event, lambda: body, timeout or self.socket.timeout)
        if self._can_push():
            push.send()
        else:
            push.start_timeout()
            self._buffer.append(push)
        try:
            return await push.future
        finally:
            if push in self._buffer:
                self._buffer.remove(push)
            if not push.future.done():
                push.cancel()

    async def leave(self, timeout: float | None = None) -> None:
        self._rejoin_timer.reset()
        if self._join_push is not None:
            self._join_push.cancel()
        if self.state == "closed":
            return
        self.state = "leaving"
        if self._can_push_now():
            leave = _Push(self, "phx_leave", dict, timeout or self.socket.timeout)
            leave.send()
            with contextlib.suppress(PushTimeout):
                await leave.future
        self._close()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # -- driven by the socket

    def _can_push_now(self) -> bool:
        return self.socket.connected and self.state in ("joined", "joining", "leaving")

    def _can_push(self) -> bool:
        return self.socket.connected and self.state == "joined"

    def _is_member(self, topic: str, join_ref: str | None) -> bool:
        if topic != self.topic:
            return False
        if join_ref and join_ref != self.join_ref:
            log.debug("dropping a message for %s with old join_ref %s", topic, join_ref)
            return False
        return True

    def _trigger(self, event: str, payload: Payload, ref: str | None) -> None:
        if event == "phx_reply" and ref in self._pending:
            status = payload.get("status", "")
            self._pending[ref].reply(Reply(str(status), payload.get("response") or {}))
        elif event == "phx_close":
            self._close()
        elif event == "phx_error":
            self._error()
        for bound_event, _ref, callback in list(self._bindings):
            if bound_event == event:
                callback(payload)

    def _rejoin(self) -> None:
        if self.state == "leaving" or self._join_push is None:
            return
        self.state = "joining"
        if self.socket.connected:
            self._join_push.send()
        else:
            self._join_push.start_timeout()

    def _rejoin_due(self) -> None:
        if self.socket.connected:
            self._rejoin()

    def _join_replied(self, reply: Reply) -> None:
        first = self._first_join
        if reply.ok:
            self.state = "joined"
            self._rejoin_timer.reset()
            for callback in list(self._on_joined):
                callback(reply.response)
            buffered, self._buffer = self._buffer, []
            for push in buffered:
                push.send()
            if first is not None and not first.done():
                first.set_result(reply.response)
        else:
            self.state = "errored"
            if self.socket.connected:
                self._rejoin_timer.schedule()
            if first is not None and not first.done():
                first.set_exception(JoinError(self.topic, reply.response))

    def _join_timed_out(self) -> None:
        if self.socket.connected:
            self.socket._push(self.join_ref, self.socket.make_ref(), self.topic, "phx_leave", {})
        self.state = "errored"
        if self.socket.connected:
            self._rejoin_timer.schedule()
        first = self._first_join
        if first is not None and not first.done():
            first.set_exception(PushTimeout(f"join of {self.topic}"))

    def _error(self) -> None:
        if self.state in ("errored", "leaving", "closed"):
            return
        if self.state == "joining" and self._join_push is not None:
            self._join_push.cancel()
        self.state = "errored"
        if self.socket.connected:
            self._rejoin_timer.schedule()

    def _socket_opened(self) -> None:
        self._rejoin_timer.reset()
        if self.state in ("errored", "joining"):
            self._rejoin()

    def _close(self) -> None:
        self._rejoin_timer.reset()
        if self._join_push is not None:
            self._join_push.cancel()
        self.state = "closed"
        self.socket._remove(self)
        self._closed.set()


class Socket:
    """The connection; see the module docstring. ``async with``, or ``connect``/``disconnect``."""

    def __init__(
        self,
        base_url: str,
        params: Params | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        heartbeat_timeout: float | None = None,
        reconnect_after: Callable[[int], float] = reconnect_after,
        rejoin_after: Callable[[int], float] = rejoin_after,
        open_timeout: float = DEFAULT_TIMEOUT,
        close_timeout: float = 1.0,
        tls: TlsSettings | None = None,
    ) -> None:
        self.base_url = base_url
        self.tls = tls or TlsSettings()  # for wss://: which CAs to trust
        self.params: Params = params or dict
        self.timeout = timeout
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout or heartbeat_interval
        self.reconnect_after, self.rejoin_after = reconnect_after, rejoin_after
        self.open_timeout, self.close_timeout = open_timeout, close_timeout
        self.channels: list[Channel] = []
        self._ref = 0
        self._conn: ClientConnection | None = None
        self._outbox: asyncio.Queue[str] | None = None
        self._heartbeat: tuple[str, asyncio.Future[None]] | None = None
        self._state_callbacks: list[Callable[[ConnectionState], None]] = []
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._closing: set[asyncio.Task[None]] = set()
        self.closed: Closed | None = None

    async def __aenter__(self) -> Socket:
        self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    @property
    def connected(self) -> bool:
        return self._outbox is not None

    def url(self) -> str:
        return socket_url(self.base_url, self.params())

    def on_state(self, callback: Callable[[ConnectionState], None]) -> None:
        """``callback(state)``: ``Connected()``, ``Reconnecting(attempt, delay, reason)`` or
        ``Closed(code, reason)`` (for good: no more reconnecting)."""
        self._state_callbacks.append(callback)

    def channel(self, topic: str, params: Params | None = None) -> Channel:
        channel = Channel(self, topic, params or dict)
        self.channels.append(channel)
        return channel

    def connect(self) -> None:
        """Start connecting (and reconnecting) in the background."""
        if self._runner is None or self._runner.done():
            self._stopping, self.closed = False, None
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def disconnect(self, code: int = WS_CLOSE_NORMAL, reason: str = "") -> None:
        self._stopping = True
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(code, reason), self.close_timeout)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        await asyncio.gather(*self._closing, return_exceptions=True)
        if self.closed is None:
            self._closed(code, reason or "disconnected")

    async def wait_closed(self) -> Closed:
        """Wait until the socket has closed for good."""
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._runner)
        return self.closed or Closed(None, "never connected")

    def make_ref(self) -> str:
        self._ref += 1
        return str(self._ref)

    # -- internals

    def _push(
        self, join_ref: str | None, ref: str | None, topic: str, event: str, payload: Payload
    ) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait(encode(join_ref, ref, topic, event, payload))

    def _remove(self, channel: Channel) -> None:
        if channel in self.channels:
            self.channels.remove(channel)

    def _emit(self, state: ConnectionState) -> None:
        for callback in list(self._state_callbacks):
            try:
                callback(state)
            except Exception:
                log.exception("connection state callback failed")

    def _closed(self, code: int | None, reason: str) -> None:
        self.closed = Closed(code, reason)
        self._emit(self.closed)

    async def _run(self) -> None:
        tries = 0
        while not self._stopping:
            try:
                url = self.url()
                conn = await connect(
                    url,
                    ssl=ssl_context(self.tls) if url.startswith("wss:") else None,
                    open_timeout=self.open_timeout,
                    close_timeout=self.close_timeout,
                    ping_interval=None,
                    max_size=None,
                    compression=None,  # deflating each small frame costs more than it saves
                    max_queue=MAX_QUEUE,
                    create_connection=_Connection,
                )
            except InvalidURI as exc:
                self._closed(None, str(exc))
                return
            except InvalidStatus as exc:
                reason = f"HTTP {exc.response.status_code}"
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                reason = str(exc) or type(exc).__name__
            else:
                tries = 0
                code, reason = await self._session(conn)
                if code == WS_CLOSE_NORMAL and reason != "heartbeat timeout":
                    self._closed(code, reason)
                    return
            if self._stopping:
                return
            tries += 1
            delay = self.reconnect_after(tries)
            self._emit(Reconnecting(tries, delay, reason))
            await asyncio.sleep(delay)

    async def _session(self, conn: ClientConnection) -> tuple[int | None, str]:
        """Serve one connection; returns its close code and reason once it is over."""
        self._conn, self._outbox = conn, asyncio.Queue()
        tasks = [
            asyncio.create_task(self._read(conn)),
            asyncio.create_task(self._write(conn, self._outbox)),
            asyncio.create_task(self._beat()),
        ]
        self._emit(Connected())
        for channel in list(self.channels):
            channel._socket_opened()
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._conn, self._outbox, self._heartbeat = None, None, None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for channel in list(self.channels):
                channel._error()
        if tasks[2] in done and not tasks[2].cancelled():
            self._close_in_background(conn, WS_CLOSE_NORMAL, "heartbeat timeout")
            return WS_CLOSE_NORMAL, "heartbeat timeout"
        close = conn.protocol.close_rcvd
        if close is not None:
            return close.code, close.reason or close_meaning(close.code)
        self._close_in_background(conn, 1006, "")
        return None, "connection lost"

    def _close_in_background(self, conn: ClientConnection, code: int, reason: str) -> None:
        async def close() -> None:
            with contextlib.suppress(Exception):
                if code == 1006:
                    conn.transport.abort()
                else:
                    await conn.close(code, reason)

        task = asyncio.create_task(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _read(self, conn: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                raw = await conn.recv()
                try:
                    join_ref, ref, topic, event, payload = decode(raw)
                except (ValueError, TypeError):
                    log.debug("dropping a malformed frame: %r", raw)
                    continue
                self._dispatch(join_ref, ref, topic, event, payload)

    def _dispatch(
        self, join_ref: str | None, ref: str | None, topic: str, event: str, payload: Payload
    ) -> None:
        heartbeat = self._heartbeat
        if heartbeat is not None and ref == heartbeat[0] and not heartbeat[1].done():
            heartbeat[1].set_result(None)
        for channel in list(self.channels):
            if channel._is_member(topic, join_ref):
                channel._trigger(event, payload, ref)

    @staticmethod
    async def _write(conn: ClientConnection, outbox: asyncio.Queue[str]) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await conn.send(await outbox.get())

    async def _beat(self) -> None:
        """Returns (ending the connection) when a heartbeat goes unanswered."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            ref = self.make_ref()
            answered: asyncio.Future[None] = loop.create_future()
            self._heartbeat = (ref, answered)
            self._push(None, ref, "phoenix", "heartbeat", {})
            try:
                await asyncio.wait_for(answered, self.heartbeat_timeout)
            except TimeoutError:
                log.info("heartbeat timeout; reconnecting")
                return
            self._heartbeat = None


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as seen when nobody is waiting for it any more."""
    if not future.cancelled():
        future.exception()
