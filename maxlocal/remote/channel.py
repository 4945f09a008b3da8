"""The ``exec:*`` topics: joining one starts a command or a shell; leaving it ends that.

Join params: ``{"kind": "command", "cmd": "...", "timeout": S}`` or ``{"kind": "shell",
"cols": C, "rows": R, "term": "xterm", "idle_timeout": S}``; a shell with ``"tty": false``
runs the script written to its stdin without a terminal. The ok reply is ``{"session": ID}``.

Server events: ``stdout``/``stderr`` (commands, scripts) or ``output`` (a terminal), each
``{"data": base64}``; then ``exit`` ``{"code", "duration_s", "reason"}``, then ``phx_close``.
Client events (each answered ok, or error with a reason): ``stdin`` ``{"data": base64}``,
``eof``, ``resize`` ``{"cols", "rows"}``, ``signal`` ``{"name": "INT"}``.

Leaving the topic, or losing the socket, ends the session and every process it started.
Input the process has not read yet is held up to ``sessions.STDIN_WINDOW``; beyond that the
connection's next frame waits for it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import json
import logging
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from maxlocal.audit import AuditTrail, SessionStart, mask
from maxlocal.realtime.topics import JoinRefused, ServerChannel
from maxlocal.remote.sessions import Ended, OnExit, Session, SessionManager, TooManySessions
from maxlocal.remote.target import ExecTopic, ResolveTarget, Target, parse_topic

log = logging.getLogger(__name__)

MAX_SIZE = 1000
WINDOW = 1024 * 1024
"""Bytes of a session's output that may wait for its client before the session waits too."""
FRAMES_PER_TAKE = 16
AUDIT_WAIT = 30.0
_TERM = re.compile(r"[A-Za-z0-9._+-]{1,64}")

Reply = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class ExecRequest:
    kind: str
    cmd: str = ""
    timeout: float | None = None
    tty: bool = True
    cols: int = 80
    rows: int = 24
    term: str = "xterm-256color"
    idle_timeout: float | None = None

    @property
    def audit_command(self) -> str:
        if self.kind == "command":
            return self.cmd
        return "shell" if self.tty else "shell (script on stdin)"


def parse_request(params: dict[str, Any]) -> ExecRequest:
    """The join params as a request; ``JoinRefused`` naming the first bad one."""
    kind = params.get("kind")
    if kind == "command":
        cmd = params.get("cmd")
        if not isinstance(cmd, str) or not cmd.strip():
            raise _refused("cmd must be a non-empty string")
        return ExecRequest("command", cmd, timeout=_seconds(params, "timeout"))
    if kind == "shell":
        tty = params.get("tty", True)
        term = params.get("term", ExecRequest.term)
        if not isinstance(tty, bool):
            raise _refused("tty must be true or false")
        if not isinstance(term, str) or not _TERM.fullmatch(term):
            raise _refused("term must be a terminal type such as xterm-256color")
        return ExecRequest(
            "shell",
            tty=tty,
            cols=_size(params, "cols", ExecRequest.cols),
            rows=_size(params, "rows", ExecRequest.rows),
            term=term,
            idle_timeout=_seconds(params, "idle_timeout"),
        )
    raise _refused('kind must be "command" or "shell"')


class ExecHandler:
    """The ``TopicHandler`` of ``exec:*``. ``resolve_target(user_id, topic)`` says what a
    session of that user on that topic runs with (None: not theirs, or no such thing)."""

    def __init__(
        self, sessions: SessionManager, resolve_target: ResolveTarget, audit: AuditTrail
    ) -> None:
        self.sessions, self.resolve_target, self.audit = sessions, resolve_target, audit

    async def join(self, channel: ServerChannel, params: dict[str, Any]) -> dict[str, Any]:
        topic = parse_topic(channel.topic)
        if topic is None:
            raise _refused("unmatched topic")
        request = parse_request(params)
        target = await asyncio.to_thread(self.resolve_target, channel.user_id, channel.topic)
        if target is None:
            raise _refused("not found")
        outlet = Outlet(channel, asyncio.get_running_loop())
        channel.on_close(outlet.close)
        record: concurrent.futures.Future[int] = concurrent.futures.Future()
        on_exit = self._on_exit(record, outlet)
        try:
            session = self._start(request, target, topic, channel, outlet, on_exit)
        except TooManySessions as exc:
            raise _refused(str(exc)) from None
        except OSError as exc:
            raise _refused(f"could not start: {exc.strerror or exc}") from None
        channel.on_close(session.kill)
        start = SessionStart(
            session=session.info.id,
            user_id=int(channel.user_id),
            network=topic.network,
            app=topic.app,
            kind=request.kind,
            command=request.audit_command,
            client=channel.client,
        )
        try:
            started = asyncio.to_thread(self.audit.started, start, target.secret_values)
            record.set_result(await started)
        except BaseException as exc:
            record.set_exception(exc)
            raise
        channel.assigns.update(session=session, outlet=outlet)
        return {"session": session.info.id}

    async def joined(self, channel: ServerChannel) -> None:
        channel.assigns["outlet"].release()

    async def handle_in(
        self, channel: ServerChannel, event: str, payload: dict[str, Any]
    ) -> Reply | None:
        session: Session | None = channel.assigns.get("session")
        if session is None or session.ended is not None:
            return "error", {"reason": "the session has ended"}
        try:
            if event == "stdin":
                data = _data(payload)
                await _room_in(session)
                session.write(data)
            elif event == "eof":
                session.eof()
            elif event == "resize":
                session.resize(_size(payload, "cols", None), _size(payload, "rows", None))
            elif event == "signal":
                session.send_signal(str(payload.get("name", "")))
            else:
                return "error", {"reason": f"unknown event {event!r}"}
        except (ValueError, JoinRefused) as exc:
            reason = exc.response["reason"] if isinstance(exc, JoinRefused) else str(exc)
            return "error", {"reason": reason}
        return "ok", {}

    def _start(
        self,
        request: ExecRequest,
        target: Target,
        topic: ExecTopic,
        channel: ServerChannel,
        outlet: Outlet,
        on_exit: OnExit,
    ) -> Session:
        owner = {"user": channel.user_id, "target": topic.key}
        if request.kind == "command":
            return self.sessions.start_command(
                request.cmd,
                target.cwd,
                target.env,
                outlet.sender("stdout"),
                outlet.sender("stderr"),
                on_exit,
                request.timeout,
                shown=mask(request.cmd, target.secret_values),
                launcher=target.launcher,
                **owner,
            )
        if not request.tty:
            return self.sessions.start_script(
                target.cwd,
                target.env,
                outlet.sender("stdout"),
                outlet.sender("stderr"),
                on_exit,
                launcher=target.launcher,
                **owner,
            )
        return self.sessions.start_shell(
            target.cwd,
            {"PS1": f"{target.label}:\\w\\$ ", **target.env},
            request.cols,
            request.rows,
            outlet.sender("output"),
            on_exit,
            request.idle_timeout,
            term=request.term,
            launcher=target.launcher,
            **owner,
        )

    def _on_exit(self, record: concurrent.futures.Future[int], outlet: Outlet) -> OnExit:
        """Runs on the session's thread: completes the audit record, then tells the client."""

        def on_exit(ended: Ended) -> None:
            try:
                record_id = record.result(AUDIT_WAIT)
                self.audit.ended(record_id, ended.code, ended.duration_s, ended.reason)
            except Exception:
                log.exception("could not record the end of a session in the audit trail")
            outlet.finish(ended)

        return on_exit


class Outlet:
    """A session's output and then its end, sent to the channel's client in order, as fast as
    the client's socket takes them: the connection pulls frames from it (a ``Source``), and
    none before the join's reply has gone out. Past ``window`` bytes waiting, the session's
    readers wait too, so a slow client holds the process back (its pipe fills) rather than
    the platform buffering its output. Output comes from the session's threads; the rest
    runs on the channel's event loop."""

    def __init__(
        self, channel: ServerChannel, loop: asyncio.AbstractEventLoop, window: int = WINDOW
    ) -> None:
        self.channel, self.loop, self.window = channel, loop, window
        self._items: deque[tuple[str, bytes] | Ended] = deque()
        self._waiting = 0  # bytes of output in _items
        self._room = threading.Condition()
        self._released = False
        self._gone = False  # the channel is closed: output has nowhere to go

    @property
    def closed(self) -> bool:
        return self.channel.closed

    def sender(self, event: str) -> Callable[[bytes], None]:
        def send(data: bytes) -> None:
            with self._room:
                self._room.wait_for(lambda: self._waiting < self.window or self._gone)
                if self._gone:
                    return
                self._items.append((event, data))
                self._waiting += len(data)
            self._wake()

        return send

    def finish(self, ended: Ended) -> None:
        with self._room:
            self._items.append(ended)
        self._wake()

    def release(self) -> None:
        """The join's reply is on its way: what is waiting may follow it."""
        self._released = True
        self._offer()

    def close(self) -> None:
        """The channel closed: drop what waits, and let the readers go on to the end."""
        with self._room:
            self._gone = True
            self._items.clear()
            self._waiting = 0
            self._room.notify_all()

    def take(self) -> list[str]:
        frames: list[str] = []
        with self._room:
            while self._items and len(frames) < FRAMES_PER_TAKE:
                item = self._items[0]
                if isinstance(item, Ended):
                    if not frames:  # alone, so no frame of this take is dropped by the stop
                        self._items.popleft()
                        frames.append(self._frame("exit", _exit_payload(item)))
                        self.loop.call_soon(self.channel.stop)
                    break
                self._items.popleft()
                event, data = item
                self._waiting -= len(data)
                frames.append(self._frame(event, {"data": base64.b64encode(data).decode()}))
            self._room.notify_all()
        return frames

    def _frame(self, event: str, payload: dict[str, Any]) -> str:
        return self.channel.frame(event, json.dumps(payload))

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: so is the client
            self.loop.call_soon_threadsafe(self._offer)

    def _offer(self) -> None:
        if self._released and self._items:
            self.channel.ready(self)


def _exit_payload(ended: Ended) -> dict[str, Any]:
    return {"code": ended.code, "duration_s": ended.duration_s, "reason": ended.reason}


async def _room_in(session: Session) -> None:
    """Until the session may take more input: while its process has not read what came
    before, this connection's frames wait (the client's sends block) rather than the platform
    queueing them. No thread waits for it: the session's writer wakes the loop up."""
    loop = asyncio.get_running_loop()
    room = asyncio.Event()
    session.when_room(lambda: loop.call_soon_threadsafe(room.set))
    await room.wait()


def _refused(reason: str) -> JoinRefused:
    return JoinRefused({"reason": reason})


def _seconds(params: dict[str, Any], key: str) -> float | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _refused(f"{key} must be a positive number of seconds")
    return float(value)


def _size(params: dict[str, Any], key: str, default: int | None) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE:
        raise _refused(f"{key} must be a whole number from 1 to {MAX_SIZE}")
    return value


def _data(payload: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(str(payload.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("data must be base64") from None
