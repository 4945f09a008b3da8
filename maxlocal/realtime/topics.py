"""What a joined topic does: the ``TopicHandler`` hook, the pub/sub-backed handler and the
feed handler for logs.

A handler is chosen for a topic by pattern (``"logs:*"`` matches by prefix, as Phoenix's
``channel "logs:*"``). The endpoint calls ``join`` (refuse by raising ``JoinRefused``), sends
the ok reply with what ``join`` returned, then calls ``joined``; ``handle_in`` answers pushes;
``left`` runs once when the channel ends for any reason (leave, duplicate join, disconnect).

Two ways to send: ``ServerChannel.push`` queues a message (the connection's queue is bounded:
a client that lets it fill is disconnected), and a ``Source`` is pulled by the connection
whenever the socket can take more (``FeedHandler``: a log is sent from where the client is
in it, read from the store as it goes, so a slow client costs a position, not a queue).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from maxlocal.realtime.protocol import CLOSE, Message, encode_raw
from maxlocal.realtime.pubsub import PubSub

Record = dict[str, Any]
Frame = Callable[[str, str], str]
"""``frame(event, payload_json)``: the text of a message to the channel's client."""
HistoryResult = tuple[list[Record], int | None]
History = Callable[[str, int], HistoryResult | Awaitable[HistoryResult]]
"""``history(topic, after) -> (records with seq > after in order, first retained seq or None)``."""


class JoinRefused(Exception):
    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__(response)
        self.response = response


class ServerChannel:
    """One joined topic on one connection."""

    def __init__(
        self,
        topic: str,
        join_ref: str | None,
        user_id: str,
        params: dict[str, Any],
        send: Callable[[Message], None],
        client: str | None = None,
        *,
        ready: Callable[[Source], None] | None = None,
        frame: Frame | None = None,
    ) -> None:
        self.topic, self.join_ref, self.user_id, self.params = topic, join_ref, user_id, params
        self.client = client
        self.closed = False
        self.assigns: dict[str, Any] = {}
        self._send = send
        self._ready = ready
        self.frame: Frame = frame or (
            lambda event, payload: encode_raw(self.topic, event, payload, self.join_ref, 2)
        )
        self._cleanups: list[Callable[[], None]] = []

    def push(self, event: str, payload: dict[str, Any]) -> None:
        """Send an event to the client on this channel (never blocks)."""
        if not self.closed:
            self._send(Message(self.topic, event, payload, None, self.join_ref))

    def ready(self, source: Source) -> None:
        """``source`` has frames to send: the connection takes them when the socket can
        (on the loop's thread)."""
        if not self.closed and self._ready is not None:
            self._ready(source)

    def on_close(self, cleanup: Callable[[], None]) -> None:
        self._cleanups.append(cleanup)

    def stop(self) -> None:
        """End the channel from the server's side: ``phx_close`` to the client, then ``close``."""
        if not self.closed:
            self._send(Message(self.topic, CLOSE, {}, self.join_ref, self.join_ref))
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for cleanup in reversed(self._cleanups):
            cleanup()


class Source(Protocol):
    """What a connection pulls frames from (see ``ServerChannel.ready``)."""

    @property
    def closed(self) -> bool:
        """True once the frames are for nobody (the channel is closed)."""
        ...

    def take(self) -> list[str]:
        """Frames to send now; none when there is nothing more (until ``ready`` again)."""
        ...


class TopicHandler(Protocol):
    async def join(self, channel: ServerChannel, params: dict[str, Any]) -> dict[str, Any]: ...

    async def joined(self, channel: ServerChannel) -> None: ...

    async def handle_in(
        self, channel: ServerChannel, event: str, payload: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        """Return ``(status, response)`` to reply, or None to send no reply."""
        ...


class PubSubHandler:
    """Streams a pub/sub topic to the channel, optionally replaying history first.

    With ``history`` and a join carrying ``{"after": SEQ}``: subscribe, read the history after
    SEQ, reply ``{"first_seq": N}``, push the history, then the live events held back meanwhile
    and from then on — skipping every event whose ``seq`` is not above the last one pushed, so
    the stream has no gap and no duplicate. Without ``after``, live events only.
    ``pubsub_topic(topic, user_id)`` maps the channel topic to the pub/sub one (e.g. the
    per-user ``status:user``).
    """

    def __init__(
        self,
        pubsub: PubSub,
        *,
        history: History | None = None,
        pubsub_topic: Callable[[str, str], str] | None = None,
        replay_event: str = "log",
    ) -> None:
        self._replay_event = replay_event
        self._pubsub = pubsub
        self._history = history
        self._pubsub_topic = pubsub_topic or (lambda topic, _user: topic)

    async def join(self, channel: ServerChannel, params: dict[str, Any]) -> dict[str, Any]:
        after = params.get("after")
        if after is not None and (not isinstance(after, int) or isinstance(after, bool)):
            raise JoinRefused({"reason": "after must be an integer"})
        stream = _Stream(channel)
        sub = self._pubsub.subscribe(
            self._pubsub_topic(channel.topic, channel.user_id), stream.on_event
        )
        channel.on_close(sub.unsubscribe)
        channel.assigns["stream"] = stream
        if after is None or self._history is None:
            return {}
        result = self._history(channel.topic, after)
        records, first_seq = await result if inspect.isawaitable(result) else result
        stream.last = after
        stream.replay = records
        return {"first_seq": first_seq}

    async def joined(self, channel: ServerChannel) -> None:
        channel.assigns["stream"].go_live(self._replay_event)

    async def handle_in(
        self, channel: ServerChannel, event: str, payload: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        return "error", {"reason": f"unknown event {event!r}"}


class _Stream:
    def __init__(self, channel: ServerChannel) -> None:
        self.channel = channel
        self.last: int | None = None
        self.replay: list[Record] = []
        self.held: list[tuple[str, Record]] | None = []

    def on_event(self, event: str, payload: Record) -> None:
        if self.held is not None:
            self.held.append((event, payload))
        else:
            self._push(event, payload)

    def go_live(self, replay_event: str) -> None:
        for record in self.replay:
            self._push(replay_event, record)
        held, self.replay, self.held = self.held or [], [], None
        for event, payload in held:
            self._push(event, payload)

    def _push(self, event: str, payload: Record) -> None:
        seq = payload.get("seq")
        if isinstance(seq, int):
            if self.last is not None and seq <= self.last:
                return
            self.last = seq
        self.channel.push(event, payload)


FeedRead = tuple[int, int, list[str]]
"""``(first_seq, last_seq, items)``: lines of a feed in order, as JSON objects: one per line
(a ``log`` payload), or batches of lines (see ``Feed.read``)."""


class Feed(Protocol):
    """A log a ``FeedHandler`` streams: numbered records, read by position."""

    def read(self, topic: str, after: int, most: int, batches: bool = False) -> FeedRead | None:
        """The kept records with ``seq > after``, oldest first, at most ``most`` of them
        (fewer is fine: the rest comes at the next read), or None when there are none.
        ``first_seq`` above ``after + 1``: the lines between are no longer kept.

        Each item is a record (``{"seq", ..., "line"}``); with ``batches``, a batch of
        consecutive records that differ only in seq and line: the record's fields with
        ``"lines"`` (the texts) in place of ``"line"`` and the first one's ``"seq"``."""
        ...

    def last_seq(self, topic: str) -> int:
        """The seq of the newest record (0 when there is none)."""
        ...

    def hold(self, topic: str, seq: int) -> Hold | None:
        """Keep the records after ``seq`` for a stream that has still to send them, as far as
        the feed can (None: it keeps what it keeps anyway)."""
        ...


class Hold(Protocol):
    """A stream's place in a feed; the stream moves ``seq`` on as it sends."""

    seq: int

    def release(self) -> None: ...


LOG, LOGS, GAP = "log", "logs", "gap"
LINES_PER_FRAME = 2000  # a ``logs`` frame; ``log`` frames are taken this many at a time


class FeedHandler:
    """Streams a ``Feed`` (a log) to each channel, from where that client is in it.

    A join with ``{"after": SEQ}`` gets every kept line after SEQ, then the live ones, with no
    gap and no line twice; the reply is ``{"first_seq": N}``, the oldest seq kept after SEQ
    (null: none yet). Without ``after``: live lines only. With ``{"batch": true}`` the lines
    come as event ``logs`` ``{"lines": [record, ...]}`` (as many as are ready, in order)
    instead of one event ``log`` each: ``{"batches": [batch, ...]}`` (see ``Feed.read``).

    The handler's pub/sub topic (the channel's) says when the feed has more: any event there
    wakes the channel's streams. A stream keeps only its position: it reads the next lines
    when the socket can take them, so a client slower than the log falls behind in the log
    instead of the platform queueing for it. If it falls so far behind that lines it has
    not been sent are no longer kept, it gets event ``gap`` ``{"after": SEQ, "first_seq": N}``
    (the lines after SEQ and before N are gone) and goes on from N.
    """

    def __init__(self, pubsub: PubSub, feed: Feed) -> None:
        self._pubsub, self._feed = pubsub, feed

    async def join(self, channel: ServerChannel, params: dict[str, Any]) -> dict[str, Any]:
        after = params.get("after")
        if after is not None and (not isinstance(after, int) or isinstance(after, bool)):
            raise JoinRefused({"reason": "after must be an integer"})
        stream = _FeedStream(channel, self._feed, params.get("batch") is True)
        sub = self._pubsub.subscribe(channel.topic, stream.wake)
        channel.on_close(sub.unsubscribe)
        channel.on_close(stream.close)
        channel.assigns["stream"] = stream
        if after is None:
            stream.start(self._feed.last_seq(channel.topic))
            return {}
        kept = self._feed.read(channel.topic, after, 1)
        first = kept[0] if kept else None
        # the reply tells of lines no longer kept: the stream does not tell again
        stream.start(after if first is None else max(after, first - 1))
        return {"first_seq": first}

    async def joined(self, channel: ServerChannel) -> None:
        channel.ready(channel.assigns["stream"])

    async def handle_in(
        self, channel: ServerChannel, event: str, payload: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        return "error", {"reason": f"unknown event {event!r}"}


class _FeedStream:
    def __init__(self, channel: ServerChannel, feed: Feed, batch: bool) -> None:
        self.channel, self.feed, self.batch = channel, feed, batch
        self.position = 0
        self.closed = False
        self.hold: Hold | None = None

    def start(self, position: int) -> None:
        self.position = position
        if not self.closed:
            self.hold = self.feed.hold(self.channel.topic, position)

    def wake(self, _event: str = "", _payload: object = None) -> None:
        self.channel.ready(self)

    def close(self) -> None:
        self.closed = True
        if self.hold is not None:
            self.hold.release()
            self.hold = None

    def take(self) -> list[str]:
        if self.closed:
            return []
        read = self.feed.read(self.channel.topic, self.position, LINES_PER_FRAME, self.batch)
        if read is None:
            return []
        first, last, items = read
        frame = self.channel.frame
        frames = []
        if first > self.position + 1:
            frames.append(frame(GAP, f'{{"after": {self.position}, "first_seq": {first}}}'))
        self.position = last
        if self.hold is not None:
            self.hold.seq = last
        if self.batch:
            frames.append(frame(LOGS, '{"batches": [' + ", ".join(items) + "]}"))
        else:
            frames.extend(frame(LOG, item) for item in items)
        return frames
