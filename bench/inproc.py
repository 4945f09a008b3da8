"""Figures measured inside one rig process: ``python -m bench.inproc completion|fresh|join N``.

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
from pathlib import Path
from typing import Any

from bench.measure import median
from bench.platform import APP, NETWORK

LINE = f"delete app {APP[0]}"
NEVER = 24 * 3600.0  # seconds: a name cache's polls that never come


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


def fresh(runs: int) -> dict[str, Any]:
    """Apps created by another client while the shell idles with its socket joined: the time
    from the creation's answer until the name is in the shell's name cache. The cache never
    polls here, so that only the socket's event can bring the name; each app is removed
    again, so that the listing the other figures time stays as it was."""
    from rig.context import Context
    from rig.repl import completion
    from rig.repl.shell import RigShell, ShellOptions

    completion.POLL_INTERVAL = completion.LIVE_POLL_INTERVAL = NEVER
    shell = RigShell(ShellOptions(), stdin=io.StringIO(), stdout=io.StringIO())
    client = Context(output="json").api().client
    timings = []

    def cached(app: str) -> Callable[[], bool]:
        return lambda: (NETWORK, app) in shell.cache.names.apps

    try:
        _until(shell.socket.joined.is_set, "the shell's socket joined")
        _until(cached(APP), "the first names")
        for n in range(runs):
            name = f"fresh-{n}"
            client.post(f"/networks/{NETWORK}/apps", {"name": name})
            start = time.perf_counter()
            _until(cached(name), name)
            timings.append(time.perf_counter() - start)
            client.delete(f"/networks/{NETWORK}/apps/{name}")
    finally:
        shell.postloop()
        client.close()
    return {"ms": median(timings) * 1000, "max_ms": max(timings) * 1000}


def _until(check: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"never: {what}")
        time.sleep(0.001)


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


def upload(archive: str, sha256: str) -> dict[str, Any]:
    """rig's upload of a prepared archive as a new release of the upload app: its seconds,
    and this process's peak memory (VmHWM) once it is done."""
    from rig.context import Context
    from rig.transport.upload import upload as send

    client = Context(output="json").api().client
    url = f"/networks/{NETWORK}/apps/upload/releases"
    client.http  # noqa: B018  made before the clock starts, as deploy has it by then
    start = time.perf_counter()
    response = send(client.http, url, Path(archive), sha256, headers=client.auth_headers())
    seconds = time.perf_counter() - start
    response.raise_for_status()
    return {"seconds": seconds, "peak_mb": _peak_mb()}


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    return 0.0


def follows(apps: list[str]) -> None:
    """Follow the logs of ``apps`` on one socket (rig's ``following``, one channel each);
    print ``ready`` once it follows, then follow until killed."""
    from rig.api.live import following
    from rig.context import Context

    topics = [f"logs:app:{NETWORK}/{app}" for app in apps]
    with following(Context(output="json"), topics) as records:
        print(json.dumps({"ready": len(topics)}), flush=True)
        for _ in records:
            pass


def main(argv: list[str]) -> int:
    kind, count = argv[0], int(argv[1])
    if kind == "completion":
        out = completion(count)
    elif kind == "upload":
        out = upload(argv[2], argv[3])
    elif kind == "follows":
        follows(argv[2:])
        return 0
    elif kind == "fresh":
        out = fresh(count)
    elif kind == "join":
        out = join(count, argv[2], argv[3])
    else:
        raise SystemExit(f"unknown figure {kind!r}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
