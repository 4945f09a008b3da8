"""What a joined topic does: the ``TopicHandler`` hook and the pub/sub-backed handler.

A handler is chosen for a topic by pattern (``"logs:*"`` matches by prefix, as Phoenix's
``channel "logs:*"``). The endpoint calls ``join`` (refuse by raising ``JoinRefused``), sends
the ok reply with what ``join`` returned, then calls ``joined``; ``handle_in`` answers pushes;
``left`` runs once when the channel ends for any reason (leave, duplicate join, disconnect).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from maxlocal.realtime.protocol import CLOSE, Message
from maxlocal.realtime.pubsub import PubSub

Record = dict[str, Any]
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
    ) -> None:
        self.topic, self.join_ref, self.user_id, self.params = topic, join_ref, user_id, params
        self.client = client
        self.closed = False
        self.assigns: dict[str, Any] = {}
        self._send = send
        self._cleanups: list[Callable[[], None]] = []

    def push(self, event: str, payload: dict[str, Any]) -> None:
        """Send an event to the client on this channel (never blocks)."""
        if not self.closed:
            self._send(Message(self.topic, event, payload, None, self.join_ref))

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
