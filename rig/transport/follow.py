"""Following log topics over the Phoenix socket: gapless, never a line twice, gaps made visible.

Each topic's channel rejoins with ``{"after": last_seq, "batch": true}`` (its params are
re-read at every rejoin), so after a reconnect the platform replays exactly what was missed,
in ``logs`` events of many lines each (``log`` events, one line each, from a platform that
does not batch, are taken too). Lines whose seq is not above the last one shown are dropped.
When the platform's join reply says its history now starts at ``first_seq`` past
``last_seq + 1``, or a ``gap`` event says lines were dropped before this client was sent
them (it fell too far behind), a marker ``{"topic": T, "skipped": K}`` is yielded in place of
the K lines that are gone.

The platform's side of the contract: within one topic, seqs are consecutive integers
(``logs:network:`` needs a network-wide sequence), and they survive a platform restart.

Event topics (``status:user``) can share the socket: their events are yielded as
``{"topic", "event", "payload"}``. They have no replay, so each rejoin after a reconnect is
yielded as event ``rejoined``: what may have been missed meanwhile is to be read again.
``Following`` is the synchronous face one-shot commands use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from functools import partial
from typing import IO, Any

from rig.transport.socket import (
    Closed,
    Connected,
    ConnectionState,
    Params,
    Payload,
    Reconnecting,
    Socket,
    SocketClosed,
)

Record = dict[str, Any]
REJOINED = "rejoined"
REFUSED = frozenset({"HTTP 401", "HTTP 403"})
"""The reasons of a connection the platform refused at the handshake (the token)."""


class _End:
    def __init__(self, error: Exception | None) -> None:
        self.error = error


Events = Mapping[str, Sequence[str]]
"""Event topics to follow too, each with the events wanted: ``{"status:user": ["release"]}``."""


class LogFollower:
    """``async with LogFollower(socket, topics, after={topic: seq}) as f: async for r in f``.

    Without an ``after`` for a topic the follow starts live (gapless from its first line);
    pass the last seq of the history already shown to continue from it with no gap.
    """

    def __init__(
        self,
        socket: Socket,
        topics: Sequence[str],
        after: Mapping[str, int] | None = None,
        events: Events | None = None,
    ) -> None:
        self.socket = socket
        self.last: dict[str, int | None] = {t: (after or {}).get(t) for t in topics}
        self._queue: asyncio.Queue[list[Record] | _End] = asyncio.Queue()
        self._open = {*topics, *(events or {})}
        self._event_topics_joined: set[str] = set()
        self._end: _End | None = None
        self._rest: deque[Record] = deque()  # taken from the queue, not yet returned
        self._channels = [socket.channel(t, self._params(t)) for t in topics]
        for channel in self._channels:
            channel.on_joined(partial(self._joined, channel.topic))
            channel.on("log", partial(self._log, channel.topic))
            channel.on("logs", partial(self._logs, channel.topic))
            channel.on("gap", partial(self._gap, channel.topic))
        for topic, names in (events or {}).items():
            channel = socket.channel(topic)
            channel.on_joined(partial(self._event_joined, topic))
            for name in names:
                channel.on(name, partial(self._event, topic, name))
            self._channels.append(channel)
        for channel in self._channels:
            channel.on("phx_close", partial(self._topic_closed, channel.topic))
        socket.on_state(self._state)

    async def __aenter__(self) -> LogFollower:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Join every topic; raises ``JoinError`` / ``PushTimeout`` if one cannot be joined."""
        try:
            await asyncio.gather(*(channel.join() for channel in self._channels))
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        self._open.clear()
        await asyncio.gather(*(channel.leave() for channel in self._channels))

    def __aiter__(self) -> AsyncIterator[Record]:
        return self

    async def __anext__(self) -> Record:
        return (await self.batch(most=1))[0]

    async def batch(self, most: int | None = None) -> list[Record]:
        """The records queued now, at most ``most``, waiting for one if none is. At the end of
        the follow (once the records before it are taken) raises ``StopAsyncIteration``, or
        the error that ended it."""
        rest = self._rest
        if not rest and self._end is None:
            item = await self._queue.get()
            while True:
                if isinstance(item, _End):
                    self._end = item
                    break
                rest.extend(item)
                if self._queue.empty():
                    break
                item = self._queue.get_nowait()
        if rest:
            if most is None or most >= len(rest):
                records = list(rest)
                rest.clear()
                return records
            return [rest.popleft() for _ in range(most)]
        assert self._end is not None
        if self._end.error is not None:
            raise self._end.error
        raise StopAsyncIteration

    def _params(self, topic: str) -> Params:
        def params() -> dict[str, Any]:
            last = self.last[topic]
            return {"batch": True} if last is None else {"after": last, "batch": True}

        return params

    def _joined(self, topic: str, response: Payload) -> None:
        first, last = response.get("first_seq"), self.last[topic]
        if isinstance(first, int) and last is not None and first > last + 1:
            self._queue.put_nowait([{"topic": topic, "skipped": first - last - 1}])
            self.last[topic] = first - 1

    def _gap(self, topic: str, payload: Payload) -> None:
        self._joined(topic, payload)

    def _log(self, topic: str, record: Payload) -> None:
        seq, last = record.get("seq"), self.last[topic]
        if isinstance(seq, int):
            if last is not None and seq <= last:
                return
            self.last[topic] = seq
        self._queue.put_nowait([record])

    def _logs(self, topic: str, payload: Payload) -> None:
        """Batches of lines (``logs``): each the lines' shared fields, the texts in
        ``lines`` and the first one's ``seq``; in seq order, so only the head of one can have
        been shown already. Records come out as ``log`` events carry them."""
        last = self.last[topic]
        records: list[Record] = []
        for batch in payload.get("batches") or ():
            lines, first = batch.get("lines"), batch.get("seq")
            if not isinstance(lines, list) or not isinstance(first, int):
                continue
            skip = 0 if last is None else max(0, last - first + 1)
            if skip >= len(lines):
                continue
            ts, app, stream = batch.get("ts"), batch.get("app"), batch.get("stream")
            extra = {k: v for k, v in batch.items() if k not in _BATCH_KEYS}
            start = first + skip
            if extra:
                records += [
                    {"seq": seq, "ts": ts, "app": app, "stream": stream, "line": line, **extra}
                    for seq, line in enumerate(lines[skip:], start)
                ]
            else:
                records += [
                    {"seq": seq, "ts": ts, "app": app, "stream": stream, "line": line}
                    for seq, line in enumerate(lines[skip:], start)
                ]
            last = first + len(lines) - 1
        if records:
            self.last[topic] = last
            self._queue.put_nowait(records)

    def _event_joined(self, topic: str, _response: Payload) -> None:
        if topic in self._event_topics_joined:
            self._event(topic, REJOINED, {})
        self._event_topics_joined.add(topic)

    def _event(self, topic: str, event: str, payload: Payload) -> None:
        self._queue.put_nowait([{"topic": topic, "event": event, "payload": payload}])

    def end(self) -> None:
        """End the iteration after what is already queued (``Following.interrupt``)."""
        self._queue.put_nowait(_End(None))

    def _topic_closed(self, topic: str, _payload: Payload) -> None:
        if topic in self._open:
            self._open.discard(topic)
            if not self._open:
                self._queue.put_nowait(_End(None))

    def _state(self, state: ConnectionState) -> None:
        if isinstance(state, Closed) and self._open:
            self._queue.put_nowait(_End(SocketClosed(state.code, state.reason)))


_BATCH_KEYS = frozenset(("seq", "ts", "app", "stream", "lines"))


class ConnectionNotices:
    """A ``Socket.on_state`` callback that says "reconnecting…" once per outage, and
    "reconnected" when it is over, on ``stream`` (stderr)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._down = False

    def __call__(self, state: ConnectionState) -> None:
        if isinstance(state, Reconnecting) and not self._down:
            self._down = True
            why = "" if state.reason in ("", "connection lost") else f" ({state.reason})"
            self._say(f"connection lost{why}; reconnecting…")
        elif isinstance(state, Connected) and self._down:
            self._down = False
            self._say("reconnected")

    def _say(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class Unavailable(ConnectionError):
    """The first connection failed (``reason``: e.g. ``HTTP 403`` or the OS error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot connect the socket: {reason}")
        self.reason = reason


class Following:
    """The synchronous face of ``LogFollower`` for one-shot commands, running the event loop
    in this thread while it waits for each record::

        with Following(base_url, params, topics, after=..., events=...) as records:
            for record in records: ...

    Entering connects and joins every topic: ``Unavailable`` when the first connection fails
    (no retrying then: the caller knows best what to fall back to), ``JoinError`` when a join
    is refused. A ``patient`` follow, whose caller has just been answered by the platform
    (the history it continues), retries a first connection that fails as it would any later
    one, so the platform going down in between is an outage like any other; a token refused
    (``REFUSED``) still fails at once. From then on the socket reconnects by itself, and
    ``on_state`` hears of it.
    Ctrl+C raises ``KeyboardInterrupt`` out of the iteration; leaving the block closes all.
    ``interrupt(error)`` from any thread ends the iteration by raising ``error`` (e.g. the
    login is over: the socket would otherwise retry for ever with a token that cannot work).
    Records are taken from the socket in batches (all that has arrived); ``on_idle`` is called
    before waiting for the next batch: where a caller that buffers its output flushes it.
    """

    def __init__(
        self,
        base_url: str,
        params: Params,
        topics: Sequence[str],
        *,
        after: Mapping[str, int] | None = None,
        events: Events | None = None,
        on_state: Callable[[ConnectionState], None] | None = None,
        on_idle: Callable[[], None] | None = None,
        patient: bool = False,
        **socket_options: Any,
    ) -> None:
        self._patient = patient
        self._runner = asyncio.Runner()
        self._on_idle = on_idle
        self._ready: deque[Record] = deque()
        self._socket = Socket(base_url, params, **socket_options)
        self._topics, self._after, self._events = topics, after, events
        self._on_state = on_state
        self._follower: LogFollower | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._error: Exception | None = None
        self._waited = False  # a patient first connection was retried
        self._first: asyncio.Future[ConnectionState] | None = None

    def __enter__(self) -> Following:
        try:
            self._runner.run(self._open())
        except BaseException:
            self.close()
            if self._error is not None:
                raise self._error from None
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        assert self._follower is not None, "enter the block first"
        if not self._ready:
            if self._on_idle is not None:
                self._on_idle()
            try:
                self._ready.extend(self._runner.run(self._follower.batch()))
            except StopAsyncIteration:
                if self._error is not None:
                    raise self._error from None
                raise StopIteration from None
        return self._ready.popleft()

    def has_more(self) -> bool:
        """Whether the next record is here already (it came in the same batch as the last):
        a caller can act once on a burst rather than on each record of it."""
        return bool(self._ready)

    def interrupt(self, error: Exception | None = None) -> None:
        """From any thread: end the iteration now, with ``error`` if given (the first one
        given wins); leaving the block then leaves the topics and closes the socket (a killed
        shell job that is waiting for a line)."""
        if error is not None and self._error is None:
            self._error = error
        follower, loop = self._follower, self._loop
        if loop is None or self._closed:
            return
        with contextlib.suppress(RuntimeError):  # its loop has just closed
            if follower is not None:
                loop.call_soon_threadsafe(follower.end)
            else:  # still waiting for the first connection
                loop.call_soon_threadsafe(self._first_state, Closed(None, "interrupted"))

    def close(self) -> None:
        """Leave every topic and close the socket (again: nothing)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._runner.run(self._close())
        finally:
            self._runner.close()

    async def _open(self) -> None:
        self._loop = asyncio.get_running_loop()
        first: asyncio.Future[ConnectionState] = asyncio.get_running_loop().create_future()
        self._first = first
        self._socket.on_state(self._first_state)
        self._socket.connect()
        state = await first
        if not isinstance(state, Connected):
            raise Unavailable(getattr(state, "reason", "") or "connection failed")
        if self._on_state is not None:
            self._socket.on_state(self._on_state)
        self._follower = LogFollower(self._socket, self._topics, self._after, self._events)
        await self._follower.start()

    def _first_state(self, state: ConnectionState) -> None:
        """Until the first connection: the state that ends the wait, or (patient) a retry,
        passed on to ``on_state`` as an outage is."""
        first = self._first
        if first is None or first.done():
            return
        retrying = isinstance(state, Reconnecting) and state.reason not in REFUSED
        if self._patient and retrying:
            self._waited = True
        else:
            first.set_result(state)
        if self._on_state is not None and self._waited:
            self._on_state(state)

    async def _close(self) -> None:
        if self._follower is not None:
            await self._follower.stop()
        await self._socket.disconnect()


def follow(
    base_url: str,
    params: Params,
    topics: Sequence[str],
    *,
    after: Mapping[str, int] | None = None,
    on_state: Callable[[ConnectionState], None] | None = None,
    **socket_options: Any,
) -> Generator[Record, None, None]:
    """``Following`` as a generator (connecting at the first ``next``); closing it, or leaving
    the loop early, closes the socket."""
    with Following(
        base_url, params, topics, after=after, on_state=on_state, **socket_options
    ) as records:
        yield from records
