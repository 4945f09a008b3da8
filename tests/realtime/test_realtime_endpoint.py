"""The platform's socket endpoint, spoken to frame by frame over real WebSocket connections."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import State
from websockets.uri import parse_uri

from maxlocal.realtime import topics
from tests.realtime.app import LogStore, ServerThread
from tests.realtime.conftest import arun

ALPHA = "logs:app:alpha/web"


def ws_url(server: ServerThread, query: str = "vsn=2.0.0&token=tok-alice") -> str:
    return f"ws://127.0.0.1:{server.port}/socket/websocket?{query}"


async def recv(ws: ClientConnection, timeout: float = 5) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def send(ws: ClientConnection, *frame: Any) -> None:
    await ws.send(json.dumps(list(frame)))


def reply(join_ref: str | None, ref: str, topic: str, status: str, response: Any) -> list[Any]:
    return [join_ref, ref, topic, "phx_reply", {"status": status, "response": response}]


def test_heartbeat_join_push_leave(server: ServerThread) -> None:
    async def main() -> None:
        async with connect(ws_url(server)) as ws:
            await send(ws, None, "1", "phoenix", "heartbeat", {})
            assert await recv(ws) == reply(None, "1", "phoenix", "ok", {})
            await send(ws, "2", "2", "echo:x", "phx_join", {"a": 1})
            assert await recv(ws) == reply("2", "2", "echo:x", "ok", {"joined": "echo:x"})
            await send(ws, "2", "3", "echo:x", "say", {"n": 5})
            assert await recv(ws) == reply("2", "3", "echo:x", "ok", {"event": "say", "n": 5})
            await send(ws, "2", "4", "echo:x", "phx_leave", {})
            assert await recv(ws) == reply("2", "4", "echo:x", "ok", {})
            assert await recv(ws) == ["2", "2", "echo:x", "phx_close", {}]
            await send(ws, "2", "5", "echo:x", "say", {})
            assert await recv(ws) == reply(
                None, "5", "echo:x", "error", {"reason": "unmatched topic"}
            )

    arun(main())
    assert server.echo.joins == [("2", {"a": 1})]


def test_log_topic_replays_then_streams(server: ServerThread, store: LogStore) -> None:
    for i in range(3):
        store.append(ALPHA, f"old {i}")

    async def main() -> list[Any]:
        async with connect(ws_url(server)) as ws:
            await send(ws, "1", "1", ALPHA, "phx_join", {"after": 1})
            frames = [await recv(ws) for _ in range(3)]
            store.append(ALPHA, "new")
            frames.append(await recv(ws))
            return frames

    frames = arun(main())
    assert frames[0] == reply("1", "1", ALPHA, "ok", {"first_seq": 2})  # the first one sent
    assert [(f[0], f[1], f[3], f[4]["seq"], f[4]["line"]) for f in frames[1:]] == [
        ("1", None, "log", 2, "old 1"),
        ("1", None, "log", 3, "old 2"),
        ("1", None, "log", 4, "new"),
    ]
    assert set(frames[1][4]) == {"seq", "ts", "app", "stream", "line"}


def test_join_without_after_is_live_only(server: ServerThread, store: LogStore) -> None:
    store.append(ALPHA, "old")

    async def main() -> list[Any]:
        async with connect(ws_url(server)) as ws:
            await send(ws, "1", "1", ALPHA, "phx_join", {})
            first = await recv(ws)
            store.append(ALPHA, "new")
            return [first, await recv(ws)]

    joined, pushed = arun(main())
    assert joined == reply("1", "1", ALPHA, "ok", {})
    assert pushed[4]["line"] == "new"


def test_another_users_topic_is_refused(server: ServerThread) -> None:
    async def main() -> list[Any]:
        async with connect(ws_url(server)) as ws:
            await send(ws, "1", "1", "logs:app:beta/web", "phx_join", {})
            refused = await recv(ws)
            await send(ws, "1", "2", "logs:app:beta/web", "ping", {})
            return [refused, await recv(ws)]

    refused, push = arun(main())
    assert refused == reply("1", "1", "logs:app:beta/web", "error", {"reason": "unauthorized"})
    assert push[4]["response"] == {"reason": "unmatched topic"}


def test_unknown_topic_and_bad_after(server: ServerThread) -> None:
    async def main() -> list[Any]:
        async with connect(ws_url(server)) as ws:
            await send(ws, "1", "1", "nope:x", "phx_join", {})
            unknown = await recv(ws)
            await send(ws, "2", "2", ALPHA, "phx_join", {"after": "x"})
            return [unknown, await recv(ws)]

    unknown, bad = arun(main())
    assert unknown == reply(None, "1", "nope:x", "error", {"reason": "unmatched topic"})
    assert bad[4] == {"status": "error", "response": {"reason": "after must be an integer"}}


def test_duplicate_join_closes_the_old_channel_first(server: ServerThread, store: LogStore) -> None:
    async def main() -> list[Any]:
        async with connect(ws_url(server)) as ws:
            await send(ws, "1", "1", ALPHA, "phx_join", {})
            frames = [await recv(ws)]
            await send(ws, "2", "2", ALPHA, "phx_join", {})
            frames += [await recv(ws), await recv(ws)]
            store.append(ALPHA, "once")
            frames.append(await recv(ws))
            with pytest.raises(TimeoutError):
                await recv(ws, timeout=0.2)
            return frames

    frames = arun(main())
    assert frames[1] == ["1", "1", ALPHA, "phx_close", {}]
    assert frames[2] == reply("2", "2", ALPHA, "ok", {})
    assert frames[3][0] == "2" and frames[3][4]["line"] == "once"


@pytest.mark.parametrize(
    "query", ["vsn=2.0.0&token=wrong", "vsn=2.0.0", "vsn=3.0.0&token=tok-alice"]
)
def test_upgrade_refused_with_403(server: ServerThread, query: str) -> None:
    async def main() -> int:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(server, query)):
                pass
        return refused.value.response.status_code

    assert arun(main()) == 403


def test_v1_client_is_accepted(server: ServerThread, store: LogStore) -> None:
    async def main() -> list[Any]:
        async with connect(ws_url(server, "token=tok-alice&vsn=1.0.0")) as ws:
            for msg in (
                {"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "1"},
                {"topic": ALPHA, "event": "phx_join", "payload": {}, "ref": "2"},
            ):
                await ws.send(json.dumps(msg))
            frames = [await recv(ws), await recv(ws)]
            store.append(ALPHA, "v1 line")
            frames.append(await recv(ws))
            return frames

    heartbeat, joined, pushed = arun(main())
    ok: dict[str, Any] = {"status": "ok", "response": {}}
    assert heartbeat == {"topic": "phoenix", "event": "phx_reply", "payload": ok, "ref": "1"}
    assert joined == {"topic": ALPHA, "event": "phx_reply", "payload": ok, "ref": "2"}
    assert pushed["event"] == "log" and pushed["payload"]["line"] == "v1 line"


def test_malformed_frames_are_ignored(server: ServerThread) -> None:
    async def main() -> Any:
        async with connect(ws_url(server)) as ws:
            for junk in ("not json", "[1, 2]", '{"a": 1}', '[null, "1", "t", "e", "nope"]'):
                await ws.send(junk)
            await send(ws, None, "9", "phoenix", "heartbeat", {})
            return await recv(ws)

    assert arun(main()) == reply(None, "9", "phoenix", "ok", {})


def test_idle_connection_is_closed(store: LogStore) -> None:
    idle = 1.0
    server = ServerThread(store, idle_timeout=idle)
    server.start()

    async def main() -> tuple[float, float, int | None]:
        async with connect(ws_url(server)) as ws:
            opened = time.monotonic()
            while time.monotonic() - opened < 2 * idle:  # traffic keeps it open past the limit
                last_sent = time.monotonic()
                await send(ws, None, "1", "phoenix", "heartbeat", {})
                await recv(ws)
                await asyncio.sleep(idle / 10)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 30)
            rcvd = closed.value.rcvd
            return (
                time.monotonic() - opened,
                time.monotonic() - last_sent,
                rcvd.code if rcvd else None,
            )

    try:
        lived, quiet, code = arun(main())
    finally:
        server.stop()
    assert code == 1000
    assert lived > 2 * idle and quiet >= idle  # closed only once nothing came for idle_timeout


def test_a_batched_join_gets_logs_events(server: ServerThread, store: LogStore) -> None:
    for i in range(3):
        store.append(ALPHA, f"old {i}")

    async def main() -> list[Any]:
        async with connect(ws_url(server)) as ws:
            await send(ws, "1", "1", ALPHA, "phx_join", {"after": 1, "batch": True})
            frames = [await recv(ws)]
            lines: list[tuple[int, str]] = []
            while len(lines) < 3:
                frame = await recv(ws)
                assert frame[:4] == ["1", None, ALPHA, "logs"]
                for batch in frame[4]["batches"]:
                    assert set(batch) == {"seq", "ts", "app", "stream", "lines"}
                    lines += [(batch["seq"] + i, line) for i, line in enumerate(batch["lines"])]
                if len(lines) == 2:
                    store.append(ALPHA, "new")
            return [*frames, lines]

    joined, lines = arun(main())
    assert joined == reply("1", "1", ALPHA, "ok", {"first_seq": 2})
    assert lines == [(2, "old 1"), (3, "old 2"), (4, "new")]


class BlockingClient:
    """A WebSocket client on a plain socket: between ``frames`` calls it reads nothing at all
    (an asyncio client library reads ahead on its own)."""

    def __init__(self, server: ServerThread) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # no autotuning
        self.sock.connect(("127.0.0.1", server.port))
        self.sock.settimeout(10)
        self.proto = ClientProtocol(parse_uri(ws_url(server)), max_size=None)
        self.proto.send_request(self.proto.connect())
        self._flush()
        while self.proto.state is not State.OPEN:
            self._receive()

    def send(self, *frame: Any) -> None:
        self.proto.send_text(json.dumps(list(frame)).encode())
        self._flush()

    def frames(self) -> list[Any]:
        """The messages of the next read (waits for one)."""
        return [json.loads(event.data) for event in self._receive() if event.opcode.name == "TEXT"]

    def close(self) -> None:
        self.sock.close()

    def _receive(self) -> list[Any]:
        self.proto.receive_data(self.sock.recv(1 << 16))
        return list(self.proto.events_received())

    def _flush(self) -> None:
        self.sock.sendall(b"".join(self.proto.data_to_send()))


def test_a_client_that_stops_reading_holds_the_server_back_then_gets_everything(
    server: ServerThread, store: LogStore
) -> None:
    """While the client reads nothing, the server takes from the log only what the connection
    can hold — far less than the 40 MB written meanwhile — and queues nothing; once the
    client reads again, every line comes, in order."""
    count, line = 20_000, "x" * 2000
    honest = store.read
    taken: list[int] = []

    def counting(topic: str, after: int, most: int, batches: bool = False) -> Any:
        found = honest(topic, after, most, batches)
        taken.append(0 if found is None else found[1] - found[0] + 1)
        return found

    store.read = counting  # type: ignore[method-assign]
    client = BlockingClient(server)
    try:
        client.send("1", "1", ALPHA, "phx_join", {})
        assert client.frames() == [reply("1", "1", ALPHA, "ok", {})]
        for _ in range(count):
            store.append(ALPHA, line)
        time.sleep(1)  # the server sends what it can meanwhile
        while_stalled = sum(taken)
        seqs: list[int] = []
        while len(seqs) < count:
            seqs += [frame[4]["seq"] for frame in client.frames()]
    finally:
        client.close()
    assert seqs == list(range(1, count + 1))
    assert while_stalled <= 2 * topics.LINES_PER_FRAME, while_stalled
    print(f"{while_stalled:,} of {count:,} lines of 2 kB taken while the client read nothing")
