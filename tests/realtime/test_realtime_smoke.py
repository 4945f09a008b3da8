from __future__ import annotations

from rig.transport.socket import Socket
from tests.realtime.app import ServerThread
from tests.realtime.conftest import arun


def test_join_and_receive(server: ServerThread) -> None:
    async def main() -> list[dict]:
        got: list[dict] = []
        async with Socket(server.url, lambda: {"token": "tok-alice"}) as socket:
            ch = socket.channel("logs:app:alpha/web", lambda: {"after": 0})
            ch.on("log", got.append)
            server.store.append("logs:app:alpha/web", "one")
            reply = await ch.join()
            assert reply == {"first_seq": 1}
            server.store.append("logs:app:alpha/web", "two")
            import asyncio
            await asyncio.sleep(0.2)
        return got

    got = arun(main())
    assert [r["line"] for r in got] == ["one", "two"]
