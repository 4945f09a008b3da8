"""Logs of an app: every task of its service, each line stamped with its instance (the task's
slot), following the tasks that replace others (a rolling update, a restart after a crash).

The engine's service log endpoint does the following: with ``follow`` it streams the lines of
every task of the service, including tasks started after the request (the swarm's log broker
subscribes by service, not by task), and ``details`` prefixes each line with the task's id,
which is mapped to its slot here (one inspect per task, cached). Lines arrive as the engine's
frames (stdout and stderr kept apart), each with the engine's timestamp.
"""

from __future__ import annotations

import contextlib
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from maxlocal.runtime.swarm.services import service_name

if TYPE_CHECKING:
    import docker

TASK_KEY = "com.docker.swarm.task.id"
STREAMS = {1: "stdout", 2: "stderr"}
HEADER = struct.Struct(">BxxxL")


@dataclass(frozen=True)
class LogLine:
    slot: int
    task_id: str
    stream: str
    time: str  # the engine's RFC 3339 timestamp
    text: str


class LogFollow:
    """An open log stream of one app; iterate for ``LogLine``\\ s, ``close`` from any thread
    to end the iteration."""

    def __init__(
        self, client: docker.DockerClient, app: str, *, follow: bool = True, tail: str = "all"
    ) -> None:
        self._client = client
        self._slots: dict[str, int] = {}
        self._lock = threading.Lock()
        params = {
            "follow": follow,
            "stdout": True,
            "stderr": True,
            "details": True,
            "timestamps": True,
            "tail": tail,
        }
        api: Any = client.api  # the SDK's own service_logs drops which stream a frame is on
        url = api._url("/services/{0}/logs", service_name(app))
        self._response = api._get(url, params=params, stream=True)
        api._raise_for_status(self._response)
        # a follow may be idle for longer than the client's timeout
        api._disable_socket_timeout(api._get_raw_response_socket(self._response))

    def _frames(self) -> Iterator[tuple[int, bytes]]:
        """The engine's frames (8-byte header: stream, size) from the HTTP body, which
        urllib3 de-chunks (``raw``)."""
        raw = self._response.raw
        while True:
            header = raw.read(HEADER.size)
            if len(header) < HEADER.size:
                return
            stream, size = HEADER.unpack(header)
            yield stream, raw.read(size)

    def __iter__(self) -> Iterator[LogLine]:
        pending: dict[int, bytes] = {}
        try:
            for stream, data in self._frames():
                buffered = pending.get(stream, b"") + data
                *lines, rest = buffered.split(b"\n")
                pending[stream] = rest
                for raw in lines:
                    parsed = self._parse(stream, raw.decode("utf-8", "replace"))
                    if parsed is not None:
                        yield parsed
        except (OSError, ValueError):
            return  # closed under us

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._response.close()

    def _parse(self, stream: int, line: str) -> LogLine | None:
        stamp, _, rest = line.partition(" ")
        details, _, text = rest.partition(" ")
        attributes = dict(pair.split("=", 1) for pair in details.split(",") if "=" in pair)
        task = attributes.get(TASK_KEY)
        if task is None:
            return None
        return LogLine(self._slot(task), task, STREAMS.get(stream, "stdout"), stamp, text)

    def _slot(self, task: str) -> int:
        with self._lock:
            if task not in self._slots:
                try:
                    self._slots[task] = int(self._client.api.inspect_task(task).get("Slot", 0))
                except Exception:  # a task already gone from the engine's list
                    self._slots[task] = 0
            return self._slots[task]
