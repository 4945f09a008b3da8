"""Figures measured inside one rig process: ``python -m bench.inproc completion|join N``.

Run as a child of the bench with the platform's environment (its config and state
directories); prints one JSON object on stdout.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.measure import median
from bench.platform import APP, NETWORK

LINE = f"delete app {APP[0]}"


class ConnectionCounter:
    """Counts every outgoing connection this process attempts (HTTP or socket, any library)."""

    def __init__(self) -> None:
        self.count = 0
        self._connect = socket.socket.connect
        self._connect_ex = socket.socket.connect_ex

    def __enter__(self) -> ConnectionCounter:
        socket.socket.connect = self._wrap(self._connect)  # type: ignore[method-assign]
        socket.socket.connect_ex = self._wrap(self._connect_ex)  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        socket.socket.connect = self._connect  # type: ignore[method-assign]
        socket.socket.connect_ex = self._connect_ex  # type: ignore[method-assign]

    def _wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(sock: socket.socket, address: Any) -> Any:
            self.count += 1
            return original(sock, address)

        return counted


def completion(calls: int) -> dict[str, Any]:
    """Tab after ``delete app w`` on the real shell, its name cache warmed from the platform."""
    from rig.repl.shell import RigShell, ShellOptions

    shell = RigShell(ShellOptions(), stdin=io.StringIO(), stdout=io.StringIO(), background=False)
    shell.cache.refresh()
    if (NETWORK, APP) not in shell.cache.names.apps:
        raise RuntimeError(f"the name cache did not fill: {shell.cache.error or 'no apps'}")
    begin, end = len(LINE) - 1, len(LINE)
    timings = []
    with ConnectionCounter() as connections:
        for _ in range(calls):
            start = time.perf_counter()
            result = shell.complete(LINE[begin:], LINE, begin, end)
            timings.append(time.perf_counter() - start)
    offered = [item.text for item in result]
    return {"ms": median(timings) * 1000, "connections": connections.count, "offered": offered}


def join(runs: int, url: str, token: str) -> dict[str, Any]:
    """Connect a socket and join an app's log topic, ``runs`` times; the median in ms."""
    from rig.transport.socket import Socket

    async def once() -> float:
        start = time.perf_counter()
        async with Socket(url, lambda: {"token": token}) as sock:
            await sock.channel(f"logs:app:{NETWORK}/{APP}").join()
            return time.perf_counter() - start

    async def all_runs() -> list[float]:
        await once()  # warm-up: imports done lazily on first use
        return [await once() for _ in range(runs)]

    return {"ms": median(asyncio.run(all_runs())) * 1000}


def main(argv: list[str]) -> int:
    kind, count = argv[0], int(argv[1])
    if kind == "completion":
        out = completion(count)
    elif kind == "join":
        out = join(count, argv[2], argv[3])
    else:
        raise SystemExit(f"unknown figure {kind!r}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
