"""The pieces on their own: wire format, pub/sub across threads, replay-then-live merging."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maxlocal.realtime import protocol
from maxlocal.realtime.protocol import Message, ProtocolError
from maxlocal.realtime.pubsub import PubSub
from maxlocal.realtime.topics import PubSubHandler, ServerChannel
from rig.transport.socket import rejoin_after, socket_url


def test_v2_and_v1_round_trip() -> None:
    msg = Message("t:1", "ev", {"a": 1}, "5", "4")
    assert protocol.encode(msg, 2) == '["4", "5", "t:1", "ev", {"a": 1}]'
    assert protocol.decode(protocol.encode(msg, 2), 2) == msg
    v1 = protocol.decode('{"topic": "t:1", "event": "ev", "payload": {"a": 1}, "ref": 5}', 1)
    assert v1 == Message("t:1", "ev", {"a": 1}, "5", None)
    assert '"join_ref"' not in protocol.encode(msg, 1)


@pytest.mark.parametrize(
    "raw", ["", "[]", '[null, null, 1, "e", {}]', '[null, null, "t", "e", []]', '["x"]', "{}"]
)
def test_malformed_frames_are_protocol_errors(raw: str) -> None:
    with pytest.raises(ProtocolError):
        protocol.decode(raw, 2 if raw.startswith("[") or not raw else 1)


def test_version_negotiation() -> None:
    assert [protocol.negotiate(v) for v in (None, "1.0.0", "2.0.0", "3.0.0", "x", "2")] == [
        1,
        1,
        2,
        None,
        None,
        None,
    ]


def test_client_url_and_rejoin_schedule() -> None:
    assert socket_url("https://h.example/base/", {"token": "a b"}) == (
        "wss://h.example/base/socket/websocket?vsn=2.0.0&token=a+b"
    )
    assert socket_url("http://127.0.0.1:1", {}) == "ws://127.0.0.1:1/socket/websocket?vsn=2.0.0"
    assert [rejoin_after(n) for n in (1, 2, 3, 4, 9)] == [1.0, 2.0, 5.0, 10.0, 10.0]


def test_threads_publish_into_the_loop_in_order() -> None:
    async def main() -> dict[int, list[int]]:
        pubsub = PubSub()
        got: dict[int, list[int]] = {}
        done = asyncio.Event()

        def broken(_event: str, _payload: dict[str, Any]) -> None:
            raise RuntimeError("a bad subscriber does not stop the others")

        def collect(_event: str, payload: dict[str, Any]) -> None:
            got.setdefault(payload["thread"], []).append(payload["n"])
            if sum(map(len, got.values())) == 4 * 500:
                done.set()

        pubsub.subscribe("t", broken)
        sub = pubsub.subscribe("t", collect)

        def publish(thread: int) -> None:
            for n in range(500):
                pubsub.publish("t", "e", {"thread": thread, "n": n})

        threads = [threading.Thread(target=publish, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        await asyncio.wait_for(done.wait(), 5)
        sub.unsubscribe()
        assert pubsub.subscriber_count("t") == 1
        return got

    got = asyncio.run(main())
    assert all(got[t] == list(range(500)) for t in range(4))


@settings(max_examples=60, deadline=None)
@given(
    stored=st.integers(0, 30),
    after_fraction=st.floats(0, 1),
    racing_before=st.integers(0, 5),
    racing_after=st.integers(0, 5),
    live_later=st.integers(0, 5),
)
def test_replay_then_live_has_no_gap_and_no_duplicate(
    stored: int, after_fraction: float, racing_before: int, racing_after: int, live_later: int
) -> None:
    """Lines arrive while the history is being read — some make it into the history and also
    arrive live, some only arrive live: the channel still gets each seq after ``after`` once."""

    async def main() -> tuple[int, list[int]]:
        pubsub = PubSub()
        records: list[dict[str, Any]] = []

        def append() -> None:
            record = {"seq": len(records) + 1, "line": "x"}
            records.append(record)
            pubsub.publish("logs:app:n/a", "log", record)

        for _ in range(stored):
            append()

        async def history(topic: str, after: int) -> tuple[list[dict[str, Any]], int | None]:
            for _ in range(racing_before):
                append()
            await asyncio.sleep(0)
            snapshot = [r for r in records if r["seq"] > after]
            for _ in range(racing_after):
                append()
            return snapshot, records[0]["seq"] if records else None

        sent: list[Message] = []
        channel = ServerChannel("logs:app:n/a", "1", "u", {}, sent.append)
        handler = PubSubHandler(pubsub, history=history)
        after = int(stored * after_fraction)
        await handler.join(channel, {"after": after})
        await handler.joined(channel)
        for _ in range(live_later):
            append()
        channel.close()
        append()  # after leaving: not sent
        return after, [m.payload["seq"] for m in sent]

    after, seqs = asyncio.run(main())
    total = stored + racing_before + racing_after + live_later
    assert seqs == list(range(after + 1, total + 1))
