"""Phoenix Channels wire format: the V2 array form and the V1 object form.

V2 (``vsn=2.0.0``): ``[join_ref, ref, topic, event, payload]``.
V1 (``vsn=1.0.0``, or no ``vsn``): ``{"topic", "event", "payload", "ref"}`` with an optional
``join_ref`` on the way in; as in Phoenix's V1 serializer, ``join_ref`` is not sent back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Version = Literal[1, 2]

HEARTBEAT_TOPIC = "phoenix"
JOIN, LEAVE, REPLY, ERROR, CLOSE, HEARTBEAT = (
    "phx_join",
    "phx_leave",
    "phx_reply",
    "phx_error",
    "phx_close",
    "heartbeat",
)


class ProtocolError(ValueError):
    """A frame that is not a Phoenix message."""


@dataclass(frozen=True)
class Message:
    topic: str
    event: str
    payload: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None
    join_ref: str | None = None


def negotiate(vsn: str | None) -> Version | None:
    """The serializer for a client's ``vsn`` query parameter, as Phoenix does: ~> 1.0 or ~> 2.0."""
    if vsn is None:
        return 1
    parts = vsn.split(".")
    if len(parts) < 2 or not all(part.isdigit() for part in parts):
        return None
    if parts[0] == "1":
        return 1
    if parts[0] == "2":
        return 2
    return None


def reply(msg: Message, status: str, response: dict[str, Any] | None = None) -> Message:
    return Message(
        msg.topic, REPLY, {"status": status, "response": response or {}}, msg.ref, msg.join_ref
    )


def decode(raw: str | bytes, version: Version) -> Message:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from exc
    if version == 2:
        if not isinstance(data, list) or len(data) < 5:
            raise ProtocolError("a V2 frame is [join_ref, ref, topic, event, payload]")
        join_ref, ref, topic, event, payload = data[:5]
    else:
        if not isinstance(data, dict):
            raise ProtocolError("a V1 frame is an object")
        try:
            topic, event, payload, ref = (data[k] for k in ("topic", "event", "payload", "ref"))
        except KeyError as exc:
            raise ProtocolError(f"missing key {exc}") from exc
        join_ref = data.get("join_ref")
    if not isinstance(topic, str) or not isinstance(event, str):
        raise ProtocolError("topic and event must be strings")
    if not isinstance(payload, dict):
        raise ProtocolError("payload must be an object")
    return Message(topic, event, payload, _ref(ref), _ref(join_ref))


def encode(msg: Message, version: Version) -> str:
    if version == 2:
        return json.dumps([msg.join_ref, msg.ref, msg.topic, msg.event, msg.payload])
    return json.dumps(
        {"topic": msg.topic, "event": msg.event, "payload": msg.payload, "ref": msg.ref}
    )


def encode_raw(
    topic: str,
    event: str,
    payload: str,
    join_ref: str | None,
    version: Version,
    ref: str | None = None,
) -> str:
    """A message whose payload is JSON already, as ``encode`` writes it (a log stream encodes
    its lines itself, sharing what they have in common)."""
    if version == 2:
        return f"[{_json(join_ref)}, {_json(ref)}, {_json(topic)}, {_json(event)}, {payload}]"
    return (
        f'{{"topic": {_json(topic)}, "event": {_json(event)}, "payload": {payload},'
        f' "ref": {_json(ref)}}}'
    )


_json = json.dumps


def _ref(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    raise ProtocolError("refs must be strings")
