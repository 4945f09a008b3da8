"""Remote commands and shells over the platform's socket: the ``exec:*`` topics.

Joining ``exec:<network>/<app>`` (or ``exec:network:<network>``) starts the session; its output
arrives as ``stdout``/``stderr``/``output`` events and its end as ``exit``. A session does not
survive its connection: when the connection drops, the platform ends the session, so the client
stops reconnecting and reports ``SessionLost`` (it would otherwise start the command again).

``run_streams`` (commands, piped shell scripts) and ``run_terminal`` (an interactive shell on
the local terminal) are the synchronous faces one-shot commands use, in the main thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from rig.config import TlsSettings
from rig.errors import AuthError, Interrupted, NotFoundError, RigError, UnreachableError
from rig.transport.socket import (
    Closed,
    Connected,
    ConnectionState,
    JoinError,
    Params,
    Payload,
    PushTimeout,
    Reconnecting,
    Socket,
)
from rig.transport.terminal import on_interrupt, on_resize, raw_mode, terminal_size

READ_CHUNK = 64 * 1024
INTERRUPTS_TO_GIVE_UP = 3

OnOutput = Callable[[str, bytes], None]
"""``on_output(stream, data)``; stream is ``stdout``, ``stderr`` or ``output`` (a terminal)."""


def exec_topic(network: str, app: str | None) -> str:
    return f"exec:{network}/{app}" if app else f"exec:network:{network}"


@dataclass(frozen=True)
class Exit:
    code: int
    duration_s: float
    reason: str


@dataclass(frozen=True)
class Platform:
    """Where the socket is: the API's base URL and the (re-read) socket params with the token."""

    base_url: str
    params: Params
    tls: TlsSettings | None = None


class SessionLost(ConnectionError):
    """The connection to the platform ended before the session did."""


class RemoteSession:
    def __init__(self, socket: Socket, topic: str, params: Payload, on_output: OnOutput) -> None:
        self.id = ""
        self._channel = socket.channel(topic, lambda: params)
        for event in ("stdout", "stderr", "output"):
            self._channel.on(event, partial(self._output, event, on_output))
        self._channel.on("exit", self._exit)
        self._channel.on("phx_close", self._closed)
        socket.on_state(self._state)
        self._done: asyncio.Future[Exit] = asyncio.get_running_loop().create_future()
        self._done.add_done_callback(_retrieve)
        self._pushes: set[asyncio.Future[Any]] = set()

    async def start(self) -> str:
        """Join, which starts the remote process; raises a RigError if the platform refuses."""
        try:
            response = await self._channel.join()
        except JoinError as exc:
            await self._channel.leave()
            raise _refusal(self._channel.topic, exc.response.get("reason", "")) from None
        except PushTimeout:
            await self._channel.leave()
            raise UnreachableError("the platform did not answer in time") from None
        self.id = str(response.get("session", ""))
        return self.id

    async def wait(self) -> Exit:
        """The exit; raises ``SessionLost`` when the connection went first."""
        return await asyncio.shield(self._done)

    def send(self, data: bytes) -> None:
        self._cast("stdin", {"data": base64.b64encode(data).decode()})

    def eof(self) -> None:
        self._cast("eof", {})

    def resize(self, cols: int, rows: int) -> None:
        self._cast("resize", {"cols": cols, "rows": rows})

    def signal(self, name: str) -> None:
        self._cast("signal", {"name": name})

    def abandon(self, error: BaseException) -> None:
        """Stop waiting: ``wait`` raises ``error`` (leaving the channel then ends the session)."""
        if not self._done.done():
            self._done.set_exception(error)

    async def close(self) -> None:
        for push in list(self._pushes):
            push.cancel()
        await self._channel.leave()

    def _cast(self, event: str, payload: Payload) -> None:
        if self._done.done():
            return
        self._track(self._channel.push(event, payload))

    def _track(self, work: Coroutine[Any, Any, Any]) -> None:
        future = asyncio.ensure_future(work)
        self._pushes.add(future)
        future.add_done_callback(self._pushed)

    def _pushed(self, push: asyncio.Future[Any]) -> None:
        self._pushes.discard(push)
        if not push.cancelled():
            push.exception()  # a refused or unanswered input push changes nothing: the exit tells

    @staticmethod
    def _output(stream: str, on_output: OnOutput, payload: Payload) -> None:
        on_output(stream, base64.b64decode(str(payload.get("data", ""))))

    def _exit(self, payload: Payload) -> None:
        if not self._done.done():
            code, duration = payload.get("code"), payload.get("duration_s")
            self._done.set_result(
                Exit(
                    code if isinstance(code, int) else 1,
                    float(duration) if isinstance(duration, int | float) else 0.0,
                    str(payload.get("reason", "")),
                )
            )

    def _closed(self, _payload: Payload) -> None:
        self.abandon(SessionLost("the platform ended the session"))

    def _state(self, state: ConnectionState) -> None:
        if isinstance(state, Reconnecting | Closed) and not self._done.done():
            self.abandon(SessionLost(getattr(state, "reason", "") or "connection lost"))
            self._track(self._channel.leave())  # no rejoin: that would run the command again


async def open_socket(platform: Platform) -> Socket:
    """A connected socket, or a RigError when the platform cannot be reached or refuses."""
    socket = Socket(platform.base_url, platform.params, tls=platform.tls)
    first: asyncio.Future[ConnectionState] = asyncio.get_running_loop().create_future()
    socket.on_state(lambda state: None if first.done() else first.set_result(state))
    socket.connect()
    state = await first
    if isinstance(state, Connected):
        return socket
    await socket.disconnect()
    reason = getattr(state, "reason", "")
    if reason in ("HTTP 401", "HTTP 403"):
        raise AuthError("the platform refused the connection", hint="run `rig login` again")
    raise UnreachableError(
        f"cannot connect to the platform at {platform.base_url} ({reason})",
        hint="is it running? For a local one, run `rig local start`",
    )


def run_streams(
    platform: Platform,
    topic: str,
    params: Payload,
    on_output: OnOutput,
    stdin_fd: int | None,
) -> Exit:
    """Run a session whose output comes as stdout and stderr (a command, a piped script).
    What is read from ``stdin_fd`` (None: end-of-input at once) is forwarded; Ctrl+C
    interrupts the remote process, and the third Ctrl+C gives up on it (``Interrupted``)."""

    async def main() -> Exit:
        socket = await open_socket(platform)
        try:
            session = RemoteSession(socket, topic, params, on_output)
            with _interrupts(session):  # before the join: output may come with its reply
                await session.start()
                if stdin_fd is None:
                    session.eof()
                else:
                    _forward(stdin_fd, session, asyncio.get_running_loop())
                return await session.wait()
        finally:
            await socket.disconnect()

    with asyncio.Runner() as runner:
        return runner.run(main())


def run_terminal(platform: Platform, topic: str, in_fd: int, out_fd: int, term: str) -> Exit:
    """An interactive shell on the local terminal, raw while it runs and restored however it
    ends; window size changes are forwarded."""

    def write(_stream: str, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(out_fd, view) :]

    async def start() -> tuple[Socket, RemoteSession]:
        socket = await open_socket(platform)
        cols, rows = terminal_size(out_fd)
        join = {"kind": "shell", "cols": cols, "rows": rows, "term": term}
        session = RemoteSession(socket, topic, join, write)
        try:
            await session.start()
        except BaseException:
            await socket.disconnect()
            raise
        return socket, session

    async def interact(session: RemoteSession) -> Exit:
        loop = asyncio.get_running_loop()

        def typed() -> None:
            data = os.read(in_fd, READ_CHUNK)
            if data:
                session.send(data)
            else:
                loop.remove_reader(in_fd)
                session.eof()

        loop.add_reader(in_fd, typed)
        try:
            return await session.wait()
        finally:
            loop.remove_reader(in_fd)

    with asyncio.Runner() as runner:
        socket, session = runner.run(start())
        loop = runner.get_loop()

        def resized(cols: int, rows: int) -> None:
            loop.call_soon_threadsafe(session.resize, cols, rows)

        try:
            with raw_mode(in_fd), on_resize(resized, out_fd):
                return runner.run(interact(session))
        finally:
            runner.run(socket.disconnect())


def _retrieve(future: asyncio.Future[Any]) -> None:
    """A session lost after nobody waits for it any more is no news."""
    if not future.cancelled():
        future.exception()


def _refusal(topic: str, reason: str) -> RigError:
    if reason in ("not found", "unauthorized"):
        rest = topic.removeprefix("exec:")
        if rest.startswith("network:"):
            what, hint = f"network '{rest.removeprefix('network:')}'", "rig list networks"
        else:
            network, _, app = rest.partition("/")
            what, hint = f"app '{app}' in network '{network}'", "rig list apps"
        return NotFoundError(f"{what} not found", hint=f"run `{hint}` to see yours")
    return RigError(f"the platform refused the session: {reason or 'no reason given'}")


def _forward(fd: int, session: RemoteSession, loop: asyncio.AbstractEventLoop) -> None:
    """Send what is read from ``fd`` to the session, then end-of-input, from a thread of its
    own: a read may block for ever, and must not keep the program from exiting."""

    def pump() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: the session is over
            for chunk in iter(partial(os.read, fd, READ_CHUNK), b""):
                loop.call_soon_threadsafe(session.send, chunk)
            loop.call_soon_threadsafe(session.eof)

    threading.Thread(target=pump, name="stdin", daemon=True).start()


@contextlib.contextmanager
def _interrupts(session: RemoteSession) -> Iterator[None]:
    """Ctrl+C interrupts the remote process; the third gives up waiting for it."""
    count = 0

    def interrupted() -> None:
        nonlocal count
        count += 1
        if count < INTERRUPTS_TO_GIVE_UP:
            session.signal("INT")
        else:
            session.abandon(Interrupted("stopped waiting for the remote command"))

    with on_interrupt(interrupted):
        yield
