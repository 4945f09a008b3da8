"""rig's Phoenix client against the test platform (real uvicorn, real sockets) and against a
scripted server where exact frames matter."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from rig.transport import socket as socket_module
from rig.transport.follow import LogFollower
from rig.transport.socket import (
    Closed,
    Connected,
    ConnectionState,
    JoinError,
    PushTimeout,
    Reconnecting,
    Socket,
    SocketClosed,
    reconnect_after,
)
from tests.realtime.app import LogStore, ServerThread, free_port
from tests.realtime.conftest import arun
from tests.support.proxy import Proxy

ALPHA = "logs:app:alpha/web"
PUSHED = "pushed:app:alpha/web"  # a log pushed line by line, as a platform that does not batch
ALICE = {"token": "tok-alice"}


@pytest.fixture
def proxy(server: ServerThread) -> Iterator[Proxy]:
    proxy = Proxy(server.port).start()
    yield proxy
    proxy.stop()


async def until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def take(follower: LogFollower, n: int, timeout: float = 10) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [await anext(follower) for _ in range(n)]

    return await asyncio.wait_for(collect(), timeout)


def states(socket: Socket) -> list[tuple[float, ConnectionState]]:
    seen: list[tuple[float, ConnectionState]] = []
    socket.on_state(lambda state: seen.append((time.monotonic(), state)))
    return seen


def test_join_push_reply_and_leave(server: ServerThread) -> None:
    async def main() -> None:
        async with Socket(server.url, lambda: ALICE) as socket:
            channel = socket.channel("echo:a", lambda: {"hello": 1})
            assert await channel.join() == {"joined": "echo:a"}
            reply = await channel.push("shout", {"n": 1})
            assert reply.ok and reply.response == {"event": "shout", "n": 1}
            with pytest.raises(PushTimeout):
                await channel.push("noreply", timeout=0.2)
            await channel.leave()
            assert channel.state == "closed" and channel not in socket.channels

    arun(main())
    assert [params for _ref, params in server.echo.joins] == [{"hello": 1}]


def test_many_topics_share_one_connection(server: ServerThread, proxy: Proxy) -> None:
    topics = [f"logs:app:alpha/app{i}" for i in range(20)]

    async def main() -> list[dict[str, Any]]:
        async with (
            Socket(proxy.url, lambda: ALICE) as socket,
            LogFollower(socket, topics) as follower,
        ):
            for topic in topics:
                server.store.append(topic, topic)
            return await take(follower, 20)

    assert sorted(r["line"] for r in arun(main())) == sorted(topics)
    assert proxy.accepted == 1


def test_unauthorized_join_raises(server: ServerThread) -> None:
    async def main() -> None:
        async with Socket(server.url, lambda: ALICE) as socket:
            channel = socket.channel("logs:app:beta/web")
            with pytest.raises(JoinError) as refused:
                await channel.join()
            assert refused.value.response == {"reason": "unauthorized"}
            assert channel.state == "errored"
            await channel.leave()

    arun(main())


def test_reconnect_schedule() -> None:
    port = free_port()  # nothing listens there

    async def main() -> list[tuple[float, ConnectionState]]:
        socket = Socket(f"http://127.0.0.1:{port}")
        seen = states(socket)
        socket.connect()
        await until(lambda: len(seen) >= 8)
        await socket.disconnect()
        return seen

    seen = arun(main())
    events = [state for _, state in seen if isinstance(state, Reconnecting)]
    assert [(e.attempt, e.delay) for e in events[:8]] == [
        (n, reconnect_after(n)) for n in range(1, 9)
    ]
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(seen[:7])]
    for gap, expected in zip(gaps, [0.01, 0.05, 0.1, 0.15, 0.2, 0.25], strict=True):
        assert expected <= gap < expected + 0.08, (gaps, expected)
    assert isinstance(seen[-1][1], Closed)
    assert [reconnect_after(n) for n in (9, 10, 50)] == [2.0, 5.0, 5.0]


def test_rejoin_after_reconnect_with_new_join_ref_and_fresh_params(
    server: ServerThread, proxy: Proxy
) -> None:
    tokens = iter(["tok-alice", "tok-alice-2"])

    async def main() -> tuple[list[str | None], list[tuple[float, ConnectionState]]]:
        socket = Socket(proxy.url, lambda: {"token": next(tokens)})
        seen = states(socket)
        async with socket:
            channel = socket.channel("echo:r")
            refs: list[str | None] = []
            channel.on_joined(lambda _response: refs.append(channel.join_ref))
            await channel.join()
            proxy.drop()
            await until(lambda: len(refs) == 2)
            assert (await channel.push("after", {})).ok
        return refs, seen

    refs, seen = arun(main())
    assert refs[0] != refs[1]
    assert [ref for ref, _params in server.echo.joins] == refs
    assert server.tokens_seen == ["tok-alice", "tok-alice-2"]
    kinds = [type(state).__name__ for _, state in seen]
    assert kinds == ["Connected", "Reconnecting", "Connected", "Closed"]


def test_pushes_buffered_while_down_are_sent_after_reconnect(server: ServerThread) -> None:
    async def main() -> None:
        async with Socket(server.url, lambda: ALICE) as socket:
            channel = socket.channel("echo:b")
            await channel.join()
            server.stop()
            await until(lambda: not socket.connected)
            pending = asyncio.create_task(channel.push("late", {"n": 7}))
            await asyncio.sleep(0.3)
            assert not pending.done()
            server.start()
            reply = await asyncio.wait_for(pending, 5)
            assert reply.response == {"event": "late", "n": 7}

    arun(main())


def test_buffered_push_times_out_from_when_it_was_made(
    server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its clock starts once, as it is made, and is not started again by the reconnects
    meanwhile; it fires then, not later (the loop's clock, so a loaded machine is no matter)."""
    clocks: list[tuple[str, float]] = []  # (event, when its timeout is due), as started
    start_timeout = socket_module._Push.start_timeout

    def recorded(push: socket_module._Push) -> None:
        start_timeout(push)
        assert push._timer is not None
        clocks.append((push.event, push._timer.when()))

    monkeypatch.setattr(socket_module._Push, "start_timeout", recorded)

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        async with Socket(server.url, lambda: ALICE, timeout=0.5) as socket:
            channel = socket.channel("echo:t")
            await channel.join()
            server.stop()
            await until(lambda: not socket.connected)
            made = loop.time()
            with pytest.raises(PushTimeout):
                await channel.push("never", {})
            timed_out = loop.time()
        server.start()
        return made, timed_out

    made, timed_out = arun(main())
    due = [when for event, when in clocks if event == "never"]
    assert len(due) == 1, clocks
    assert made + 0.5 <= due[0] <= timed_out


def test_messages_with_an_old_join_ref_are_dropped() -> None:
    """A scripted server: after the join, it sends a push with a stale join_ref, a broadcast
    (null join_ref) and a push with the current one. Only the last two get through."""

    async def script(ws: ServerConnection) -> None:
        join_ref, ref, topic, _event, _payload = json.loads(await ws.recv())
        await ws.send(
            json.dumps([join_ref, ref, topic, "phx_reply", {"status": "ok", "response": {}}])
        )
        for frame_join_ref, n in (("999", 1), (None, 2), (join_ref, 3)):
            await ws.send(json.dumps([frame_join_ref, None, topic, "log", {"n": n}]))
        await ws.wait_closed()

    async def main() -> list[int]:
        got: list[int] = []
        async with serve(script, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with Socket(f"http://127.0.0.1:{port}") as socket:
                channel = socket.channel("t:1")
                channel.on("log", lambda payload: got.append(payload["n"]))
                await channel.join()
                await until(lambda: len(got) == 2)
                await asyncio.sleep(0.05)
        return got

    assert arun(main()) == [2, 3]


def test_a_close_from_the_server_ends_the_connection_even_if_tcp_stays_open() -> None:
    """A server (or what is between) that sends its close frame but leaves TCP open: the
    client, having answered, drops the connection after its close timeout and reconnects —
    not at its next heartbeat, 30 s on."""
    held: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        protocol = ServerProtocol()
        while protocol.state is State.CONNECTING:
            protocol.receive_data(await reader.read(65536))
            for request in protocol.events_received():
                assert isinstance(request, Request)
                protocol.send_response(protocol.accept(request))
            writer.write(b"".join(protocol.data_to_send()))
        protocol.send_close(1012)
        writer.write(b"".join(protocol.data_to_send()))
        held.append(writer)  # and never closed

    async def main() -> float:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        socket = Socket(f"http://127.0.0.1:{port}", close_timeout=0.3)
        seen = states(socket)
        async with server, socket:
            await until(lambda: any(isinstance(s, Reconnecting) for _, s in seen))
        connected = next(t for t, s in seen if isinstance(s, Connected))
        dropped = next(t for t, s in seen if isinstance(s, Reconnecting))
        return dropped - connected

    assert arun(main()) < 0.3 + 1.0


def test_stalled_connection_is_detected_by_heartbeat_and_recovered(
    server: ServerThread, proxy: Proxy, store: LogStore
) -> None:
    async def main() -> tuple[list[int], float]:
        socket = Socket(proxy.url, lambda: ALICE, heartbeat_interval=0.2)
        seen = states(socket)
        async with socket, LogFollower(socket, [ALPHA]) as follower:
            store.append(ALPHA, "before")
            got = await take(follower, 1)
            proxy.stall()
            stalled = time.monotonic()
            store.append(ALPHA, "during")  # lost on the stalled link, replayed after
            await until(lambda: any(isinstance(s, Reconnecting) for _, s in seen))
            detected = next(t for t, s in seen if isinstance(s, Reconnecting)) - stalled
            got += await take(follower, 1)
            store.append(ALPHA, "after")
            got += await take(follower, 1)
        return [r["seq"] for r in got], detected

    seqs, detected = arun(main())
    assert seqs == [1, 2, 3]
    assert detected < 0.2 * 2 + 0.15
    print(f"stall detected after {detected * 1000:.0f} ms (heartbeat every 200 ms)")


@pytest.mark.parametrize("outage", ["server restart", "connection reset"])
def test_an_outage_mid_follow_loses_and_repeats_nothing(
    server: ServerThread, proxy: Proxy, store: LogStore, outage: str
) -> None:
    """Lines keep coming while the platform restarts on the same port (or the connection is
    reset without a close): every seq arrives exactly once, in order.

    A restart closes the connection with 1012 and then TCP; the proxy between passes the
    close frame on but (racing with the client's answer) could keep the client's side of
    TCP open: the client must not wait for that close beyond its close timeout (it waited
    for its next heartbeat, and the test timed out now and then)."""
    total = 400
    writing = threading.Thread(target=write_numbered, args=(store, total, 0.002))

    def interrupt() -> None:
        if outage == "server restart":
            restart(server)
        else:
            proxy.drop()

    async def main() -> list[int]:
        async with (
            Socket(proxy.url, lambda: ALICE) as socket,
            LogFollower(socket, [ALPHA], after={ALPHA: 0}) as follower,
        ):
            writing.start()
            seqs: list[int] = []
            while len(seqs) < total:
                seqs.append((await asyncio.wait_for(anext(follower), 10))["seq"])
                if len(seqs) in (100, 250):
                    await asyncio.to_thread(interrupt)
            writing.join()
            return seqs

    assert arun(main()) == list(range(1, total + 1))


def write_numbered(store: LogStore, n: int, pause: float) -> None:
    for i in range(n):
        store.append(ALPHA, f"line {i + 1}")
        time.sleep(pause)


def restart(server: ServerThread) -> None:
    server.stop()
    time.sleep(0.2)
    server.start()


def test_gap_beyond_retention_yields_a_skipped_marker(store: LogStore) -> None:
    store.retention = 5
    server = ServerThread(store)
    server.start()

    async def main() -> list[dict[str, Any]]:
        async with (
            Socket(server.url, lambda: ALICE) as socket,
            LogFollower(socket, [ALPHA], after={ALPHA: 0}) as follower,
        ):
            for i in range(3):
                store.append(ALPHA, f"{i}")
            got = await take(follower, 3)
            server.stop()
            for i in range(20):
                store.append(ALPHA, f"{i}")
            server.start()
            return got + await take(follower, 6)

    try:
        got = arun(main())
    finally:
        server.stop()
    assert [r.get("seq") for r in got] == [1, 2, 3, None, 19, 20, 21, 22, 23]
    assert got[3] == {"topic": ALPHA, "skipped": 15}


def test_overlapping_replay_is_deduplicated(store: LogStore, proxy: Proxy) -> None:
    honest = store.history
    store.history = lambda topic, after: honest(topic, 0)  # type: ignore[method-assign]

    async def main() -> list[int]:
        async with (
            Socket(proxy.url, lambda: ALICE) as socket,
            LogFollower(socket, [PUSHED], after={PUSHED: 0}) as follower,
        ):
            for i in range(3):
                store.append(PUSHED, f"{i}")
            got = await take(follower, 3)
            proxy.drop()
            await until(lambda: not socket.connected)
            store.append(PUSHED, "4")
            store.append(PUSHED, "5")
            got += await take(follower, 2)
            with pytest.raises(TimeoutError):
                await take(follower, 1, timeout=0.3)
            return [r["seq"] for r in got]

    assert arun(main()) == [1, 2, 3, 4, 5]


def test_normal_close_by_server_ends_the_follow(store: LogStore) -> None:
    server = ServerThread(store, idle_timeout=0.3)
    server.start()

    async def main() -> tuple[SocketClosed, list[tuple[float, ConnectionState]]]:
        socket = Socket(server.url, lambda: ALICE)
        seen = states(socket)
        async with socket, LogFollower(socket, [ALPHA]) as follower:
            with pytest.raises(SocketClosed) as closed:
                await take(follower, 1)
        return closed.value, seen

    try:
        closed, seen = arun(main())
    finally:
        server.stop()
    assert (closed.code, closed.reason) == (1000, "idle timeout")
    assert [type(s) for _, s in seen] == [Connected, Closed]


def test_a_client_too_slow_for_the_server_queue_resumes_where_it_stopped(store: LogStore) -> None:
    for i in range(60):
        store.append(PUSHED, f"{i}")
    server = ServerThread(store, max_queue=8)
    server.start()

    async def main() -> tuple[list[int], list[tuple[float, ConnectionState]]]:
        socket = Socket(server.url, lambda: ALICE)
        seen = states(socket)
        async with socket, LogFollower(socket, [PUSHED], after={PUSHED: 0}) as follower:
            return [r["seq"] for r in await take(follower, 60)], seen

    try:
        seqs, seen = arun(main())
    finally:
        server.stop()
    assert seqs == list(range(1, 61))
    closes = [s.reason for _, s in seen if isinstance(s, Reconnecting)]
    assert len(closes) >= 60 // 8 - 1
    assert set(closes) == {"too slow"}


def test_connect_and_join_again_and_again(server: ServerThread) -> None:
    """Five sockets in a row each connect, join and are sent what is new, each over a
    connection of its own (how fast: the bench's socket figure)."""

    async def once(n: int) -> float:
        started = time.perf_counter()
        async with Socket(server.url, lambda: ALICE) as socket:
            joined = await socket.channel("echo:again", lambda: {"n": n}).join()
            assert joined == {"joined": "echo:again"}
            async with LogFollower(socket, [ALPHA], after={ALPHA: n}) as follower:
                server.store.append(ALPHA, f"line {n + 1}")
                (record,) = await take(follower, 1)
                assert (record["seq"], record["line"]) == (n + 1, f"line {n + 1}")
            return time.perf_counter() - started

    samples = [arun(once(n)) for n in range(5)]
    assert len(server.tokens_seen) == 5  # five connections, each authenticated
    assert [params for _ref, params in server.echo.joins] == [{"n": n} for n in range(5)]
    print(
        f"connect+join on loopback: median {statistics.median(samples) * 1000:.1f} ms, "
        f"max {max(samples) * 1000:.1f} ms"
    )


def test_batches_and_gaps_become_records_in_order() -> None:
    """``logs`` batches come out as the records ``log`` events carry, each once; a ``gap``
    comes out as a skipped marker."""

    async def main() -> list[dict[str, Any]]:
        follower = LogFollower(Socket("http://127.0.0.1:1"), [ALPHA], after={ALPHA: 3})
        shared = {"ts": "t", "app": "web", "stream": "stdout"}
        follower._logs(ALPHA, {"batches": [{"seq": 2, **shared, "lines": ["2", "3", "4", "5"]}]})
        follower._logs(ALPHA, {"batches": [{"seq": 6, **shared, "lines": ["6"], "release": 7}]})
        follower._gap(ALPHA, {"after": 6, "first_seq": 10})
        follower._log(ALPHA, {"seq": 10, **shared, "line": "10"})
        follower._logs(ALPHA, {"batches": [{"seq": 9, **shared, "lines": ["9", "10", "11"]}]})
        return await follower.batch()

    got = arun(main())
    assert [json.dumps(r) for r in got] == [
        '{"seq": 4, "ts": "t", "app": "web", "stream": "stdout", "line": "4"}',
        '{"seq": 5, "ts": "t", "app": "web", "stream": "stdout", "line": "5"}',
        '{"seq": 6, "ts": "t", "app": "web", "stream": "stdout", "line": "6", "release": 7}',
        json.dumps({"topic": ALPHA, "skipped": 3}),
        '{"seq": 10, "ts": "t", "app": "web", "stream": "stdout", "line": "10"}',
        '{"seq": 11, "ts": "t", "app": "web", "stream": "stdout", "line": "11"}',
    ]
