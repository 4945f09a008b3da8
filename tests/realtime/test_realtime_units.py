"""The pieces on their own: wire format, pub/sub across threads, replay-then-live merging."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maxlocal.realtime import protocol, topics
from maxlocal.realtime.protocol import Message, ProtocolError
from maxlocal.realtime.pubsub import PubSub
from maxlocal.realtime.topics import FeedHandler, FeedRead, PubSubHandler, ServerChannel, Source
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


class ListFeed:
    """A feed over a list of records, keeping the last ``keep``; notes the holds asked."""

    def __init__(self, keep: int = 10_000) -> None:
        self.records: list[dict[str, Any]] = []
        self.keep = keep
        self.held: list[int] = []

    def append(self, n: int) -> None:
        for _ in range(n):
            seq = self.records[-1]["seq"] + 1 if self.records else 1
            self.records.append({"seq": seq, "ts": "t", "app": "a", "line": f"{seq}"})
        del self.records[: -self.keep]

    def read(self, topic: str, after: int, most: int, batches: bool = False) -> FeedRead | None:
        records = [r for r in self.records if r["seq"] > after][:most]
        if not records:
            return None
        if batches:
            lines = [r["line"] for r in records]
            items = [json.dumps({"seq": records[0]["seq"], "ts": "t", "app": "a", "lines": lines})]
        else:
            items = [json.dumps(r) for r in records]
        return records[0]["seq"], records[-1]["seq"], items

    def last_seq(self, topic: str) -> int:
        return self.records[-1]["seq"] if self.records else 0

    def hold(self, topic: str, seq: int) -> None:
        self.held.append(seq)


def feed_channel(params: dict[str, Any]) -> tuple[ServerChannel, list[Source]]:
    ready: list[Source] = []
    channel = ServerChannel("logs:app:n/a", "1", "u", params, lambda _m: None, ready=ready.append)
    return channel, ready


def take_all(ready: list[Source]) -> list[Any]:
    """What the connection sends: frames taken until the sources have nothing more."""
    frames: list[Any] = []
    while ready:
        source = ready[0]
        taken = source.take()
        if not taken:
            ready.remove(source)
        frames += [json.loads(frame) for frame in taken]
    return frames


@pytest.mark.parametrize("batch", [False, True])
def test_a_feed_is_sent_from_the_join_position_then_as_it_grows(batch: bool) -> None:
    async def main() -> tuple[dict[str, Any], list[Any], list[Any]]:
        pubsub, feed = PubSub(), ListFeed()
        feed.append(5)
        handler = FeedHandler(pubsub, feed)
        channel, ready = feed_channel({"after": 2, "batch": batch})
        reply = await handler.join(channel, channel.params)
        await handler.joined(channel)
        replayed = take_all(ready)
        feed.append(topics.LINES_PER_FRAME + 10)
        pubsub.publish(channel.topic, "appended", {})  # wakes the stream
        live = take_all(ready)
        channel.close()
        feed.append(1)
        pubsub.publish(channel.topic, "appended", {})
        assert not ready and channel.assigns["stream"].take() == []  # closed: nothing more
        return reply, replayed, live

    reply, replayed, live = asyncio.run(main())
    assert reply == {"first_seq": 3}
    frames = replayed + live
    assert {f[:4] == ["1", None, "logs:app:n/a", "logs" if batch else "log"] for f in frames} == {
        True
    }
    if batch:
        assert len(replayed) == 1 and len(live) == 2  # LINES_PER_FRAME lines at most each
        batches = [b for f in frames for b in f[4]["batches"]]
        seqs = [b["seq"] + i for b in batches for i in range(len(b["lines"]))]
        lines = [line for f in frames for b in f[4]["batches"] for line in b["lines"]]
        assert lines == [str(seq) for seq in seqs]
    else:
        seqs = [f[4]["seq"] for f in frames]
    assert seqs == list(range(3, 5 + topics.LINES_PER_FRAME + 10 + 1))


def test_a_stream_behind_what_the_feed_keeps_is_told_the_gap() -> None:
    async def main() -> tuple[dict[str, Any], list[Any]]:
        pubsub, feed = PubSub(), ListFeed(keep=10)
        feed.append(30)
        handler = FeedHandler(pubsub, feed)
        channel, ready = feed_channel({"after": 5})
        reply = await handler.join(channel, channel.params)  # 6..20 are gone already
        await handler.joined(channel)
        frames = take_all(ready)
        feed.append(5)  # 31..35: the stream has them still
        feed.records[:] = feed.records[-2:]  # and now only 34, 35 are kept
        feed.append(0)
        pubsub.publish(channel.topic, "appended", {})
        return reply, frames + take_all(ready)

    reply, frames = asyncio.run(main())
    assert reply == {"first_seq": 21}  # the reply tells of 6..20: the stream does not again
    events = [(f[3], f[4].get("seq"), f[4].get("after"), f[4].get("first_seq")) for f in frames]
    assert events == [
        *[("log", seq, None, None) for seq in range(21, 31)],
        ("gap", None, 30, 34),
        ("log", 34, None, None),
        ("log", 35, None, None),
    ]


def test_a_stream_holds_its_place_in_the_feed() -> None:
    async def main() -> list[int]:
        pubsub, feed = PubSub(), ListFeed()
        feed.append(3)
        handler = FeedHandler(pubsub, feed)
        channel, ready = feed_channel({})
        await handler.join(channel, channel.params)
        await handler.joined(channel)
        take_all(ready)
        return feed.held

    assert asyncio.run(main()) == [3]  # live only: from the newest at the join
