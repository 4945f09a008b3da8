"""What the realtime socket serves on maxlocal: who may join which topic, the log topics fed
from the runtime's ``LogStore``, and ``status:user`` fed from the platform's events.

Topics (see docs/api.md, "Realtime"):

- ``logs:app:<network>/<app>``, ``logs:build:<network>/<app>``, ``logs:network:<network>``:
  event ``log`` (or ``logs``, batched, for a join with ``{"batch": true}``); a join with
  ``{"after": SEQ}`` replays what is stored after SEQ first. Each channel is sent the store's
  lines from its own position (``FeedHandler``), encoded straight from the stored batches.
- ``status:user``: ``created``, ``deleted``, ``app_state``, ``release``, for the token's user.

A log key's batches wake its followers through the pub/sub only while somebody follows it (a
bridge per key, counted by joins), so lines nobody follows cost nothing more than storing them.

Wiring, in ``maxlocal/server.py``::

    live = Live.build(platform)
    endpoint = SocketEndpoint(authenticate=live.authenticate, authorize=live.authorize,
                              handlers=live.handlers)   # add other topics' handlers here
    # at start-up, on the server's loop: live.pubsub.bind(loop)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from maxlocal.errors import PlatformError
from maxlocal.layout import build_log_key, log_key, network_log_key
from maxlocal.platform import Platform
from maxlocal.realtime.endpoint import Identity
from maxlocal.realtime.pubsub import PubSub
from maxlocal.realtime.topics import (
    FeedHandler,
    FeedRead,
    PubSubHandler,
    ServerChannel,
    TopicHandler,
)
from maxlocal.runtime.logstore import LogBatch, LogHold, LogRecord, LogStore, process_fields

LOG_TOPICS = "logs:*"
STATUS_TOPIC = "status:user"
APPENDED = "appended"  # the pub/sub event that wakes a log topic's streams
FRAME_CHARS = 512 * 1024  # a read for a stream stops once its lines are this long
_STRING = json.encoder.encode_basestring_ascii  # a str as json.dumps writes it


def user_topic(user_id: int | str) -> str:
    """The pub/sub topic behind one user's ``status:user``."""
    return f"{STATUS_TOPIC}:{user_id}"


@dataclass(frozen=True)
class LogTopic:
    kind: str  # "app", "build" or "network"
    network: str
    app: str | None

    @classmethod
    def parse(cls, topic: str) -> LogTopic | None:
        prefix, _, rest = topic.partition(":")
        kind, _, target = rest.partition(":")
        if prefix != "logs" or not target:
            return None
        if kind == "network":
            return cls(kind, target, None) if "/" not in target else None
        network, _, app = target.partition("/")
        if kind not in ("app", "build") or not network or not app or "/" in app:
            return None
        return cls(kind, network, app)

    @property
    def key(self) -> str:
        if self.app is None:
            return network_log_key(self.network)
        if self.kind == "build":
            return build_log_key(self.network, self.app)
        return log_key(self.network, self.app)

    def encode(self, batch: LogBatch) -> list[str]:
        """The lines of ``batch`` as JSON objects, each as ``json.dumps(self.payload(r))``
        writes it (what they share encoded once)."""
        middle = self._shared(batch) + ', "line": '
        end = self._process(batch) + self._release(batch) + "}"
        return [
            f'{{"seq": {seq}{middle}{_STRING(line)}{end}'
            for seq, line in enumerate(batch.lines, batch.first)
        ]

    def encode_batch(self, batch: LogBatch) -> str:
        """``batch`` as one JSON object of a ``logs`` event: the payload of its lines with
        ``"lines"`` (their texts) in place of ``"line"``, ``"seq"`` the first one's."""
        lines = ", ".join(map(_STRING, batch.lines))
        shared, tail = self._shared(batch), self._process(batch) + self._release(batch)
        return f'{{"seq": {batch.first}{shared}, "lines": [{lines}]{tail}}}'

    def _shared(self, batch: LogBatch) -> str:
        app = batch.app or self.app
        return f', "ts": {_json(batch.ts)}, "app": {_json(app)}, "stream": {_json(batch.stream)}'

    def _process(self, batch: LogBatch) -> str:
        fields = process_fields(batch.process)
        return f', "process": {_json(fields["process"])}, "instance": {_json(fields["instance"])}'

    def _release(self, batch: LogBatch) -> str:
        return f', "release": {_json(batch.release)}' if self.kind == "build" else ""

    def payload(self, record: LogRecord) -> dict[str, Any]:
        """The ``log`` event: ``{"seq", "ts", "app", "stream", "line", "process", "instance"}``
        (+ ``release``)."""
        payload = {
            "seq": record.seq,
            "ts": record.ts,
            "app": record.app or self.app,
            "stream": record.stream,
            "line": record.line,
            **process_fields(record.process),
        }
        if self.kind == "build":
            payload["release"] = record.release
        return payload


class LogTopics:
    """The ``logs:*`` handler: a ``FeedHandler`` over the store, plus the bridges that wake a
    topic's streams (through the pub/sub) at each new batch of its key while at least one
    channel follows it."""

    def __init__(self, logs: LogStore, pubsub: PubSub) -> None:
        self._logs, self._pubsub = logs, pubsub
        self._inner = FeedHandler(pubsub, self)
        self._bridges: dict[str, tuple[int, Callable[[], None]]] = {}
        self._topics: dict[str, LogTopic] = {}

    async def join(self, channel: ServerChannel, params: dict[str, Any]) -> dict[str, Any]:
        ref = LogTopic.parse(channel.topic)
        assert ref is not None  # authorize refused the others
        self._retain(channel.topic, ref)
        channel.on_close(lambda: self._release(channel.topic))
        return await self._inner.join(channel, params)

    async def joined(self, channel: ServerChannel) -> None:
        await self._inner.joined(channel)

    async def handle_in(
        self, channel: ServerChannel, event: str, payload: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        return await self._inner.handle_in(channel, event, payload)

    # the Feed FeedHandler reads

    def read(self, topic: str, after: int, most: int, batches: bool = False) -> FeedRead | None:
        ref = self._topic(topic)
        found = self._logs.batches(ref.key, after, most)
        if not found:
            return None
        items: list[str] = []
        chars = 0
        for batch in found:
            encoded = [ref.encode_batch(batch)] if batches else ref.encode(batch)
            items += encoded
            last = batch.last
            chars += sum(map(len, encoded))
            if chars >= FRAME_CHARS:
                break
        return found[0].first, last, items

    def last_seq(self, topic: str) -> int:
        return self._logs.last_seq(self._topic(topic).key)

    def hold(self, topic: str, seq: int) -> LogHold:
        return self._logs.hold(self._topic(topic).key, seq)

    def _topic(self, topic: str) -> LogTopic:
        ref = self._topics.get(topic)
        if ref is None:
            parsed = LogTopic.parse(topic)
            assert parsed is not None  # authorize refused the others
            ref = self._topics[topic] = parsed
        return ref

    def _retain(self, topic: str, ref: LogTopic) -> None:
        count, unsubscribe = self._bridges.get(topic, (0, None))
        if unsubscribe is None:
            publish = self._pubsub.publish
            unsubscribe = self._logs.subscribe_batches(
                ref.key, lambda _batch: publish(topic, APPENDED, {})
            )
        self._bridges[topic] = (count + 1, unsubscribe)

    def _release(self, topic: str) -> None:
        count, unsubscribe = self._bridges.pop(topic)
        if count > 1:
            self._bridges[topic] = (count - 1, unsubscribe)
        else:
            unsubscribe()
            self._topics.pop(topic, None)


@dataclass(frozen=True)
class Live:
    platform: Platform
    pubsub: PubSub
    handlers: dict[str, TopicHandler]

    @classmethod
    def build(cls, platform: Platform) -> Live:
        pubsub = PubSub()
        handlers: dict[str, TopicHandler] = {
            LOG_TOPICS: LogTopics(platform.runtime.logs, pubsub),
            STATUS_TOPIC: PubSubHandler(pubsub, pubsub_topic=lambda _t, user: user_topic(user)),
        }
        live = cls(platform, pubsub, handlers)
        platform.events.listeners.append(live._publish)
        platform.runtime.state_listeners.append(live._app_state)
        platform.runtime.release_listeners.append(live._release)
        return live

    def authenticate(self, token: str) -> Identity | None:
        """Who an access or API token is, as the HTTP API checks it (expired: None), and
        while what: the session or API token a revocation of which ends the socket."""
        try:
            grant = self.platform.auth.recheck(self.platform.auth.grant(token))
        except PlatformError:
            return None
        if grant is None:
            return None
        return Identity(str(grant.user.id), grant.keys, grant.ends_at, grant)

    def recheck(self, identity: Identity) -> Identity | None:
        """The socket's identity as its credential stands now; None once revoked or ended."""
        grant = self.platform.auth.recheck(identity.credential)
        if grant is None:
            return None
        return Identity(identity.user_id, grant.keys, grant.ends_at, grant)

    def authorize(self, user_id: str, topic: str) -> bool:
        """Log topics of the user's own networks and apps, and ``status:user``. Other topics'
        handlers (``exec:*``) check the user themselves, refusing with their own reason."""
        if topic == STATUS_TOPIC:
            return True
        if not topic.startswith("logs:"):
            return True
        ref = LogTopic.parse(topic)
        network = self.platform.networks.get(int(user_id), ref.network) if ref else None
        if ref is None or network is None:
            return False
        return ref.app is None or self.platform.apps.get(network.id, ref.app) is not None

    def _publish(self, user_id: int, event: str, payload: dict[str, Any]) -> None:
        self.pubsub.publish(user_topic(user_id), event, payload)

    def _owner_publish(self, app_key: str, event: str, payload: dict[str, Any]) -> None:
        network, name = app_key.split("/", 1)
        owner = self.platform.networks.owner(network)
        if owner is not None:
            self._publish(owner, event, {"network": network, "app": name, **payload})

    def _app_state(self, app_key: str, state: str, details: dict[str, Any]) -> None:
        self._owner_publish(app_key, "app_state", {**details, "state": state})

    def _release(self, app_key: str, number: int, status: str, details: dict[str, Any]) -> None:
        self._owner_publish(app_key, "release", {**details, "number": number, "status": status})


_json = json.dumps
