"""Logs of an app: every task of its service, each line stamped with its instance (the task's
slot), following the tasks that replace others (a rolling update, a restart after a crash).

Each task's container log is read through the engine (``/containers/{id}/logs``, from its
first line, ``follow``ing it until the container ends), and a watcher lists the service's tasks
every ``POLL_S`` to start reading each new one: a container's log is its own file, read from
the start, so nothing is lost between a task starting and being found. The service log
endpoint (``/services/{id}/logs?follow&details``) does the same in one request and would reach
tasks on other nodes; it was the first version here, and was dropped over lines it seemed to
lose, which were later traced to the test app's own interleaved writes. So it is an open
choice: on a swarm of several nodes, either that endpoint (if it proves gapless) or this
reader on each node's engine (a task's ``NodeID``). One node here.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from maxlocal.runtime.swarm.services import service_name

if TYPE_CHECKING:
    import docker

STREAMS = {1: "stdout", 2: "stderr"}
HEADER = struct.Struct(">BxxxL")
POLL_S = 0.25


@dataclass(frozen=True)
class LogLine:
    slot: int
    task_id: str
    stream: str
    time: str  # the engine's RFC 3339 timestamp
    text: str


_END = object()


class LogFollow:
    """An open log of one app; iterate for ``LogLine``\\ s (each task's in order), ``close``
    from any thread to end the iteration. ``follow=False``: what is logged now, then the end.
    ``since`` (a UNIX time): only lines logged after it (a restarted platform adopting a
    running service reads on from where its log store ends, not each task's whole log)."""

    def __init__(
        self,
        client: docker.DockerClient,
        app: str,
        *,
        follow: bool = True,
        since: float | None = None,
    ) -> None:
        self._client = client
        self._app = app
        self._follow = follow
        self._since = since
        self._lines: queue.Queue[object] = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._reading: dict[str, socket.socket | None] = {}  # container id -> its log socket
        self._readers: list[threading.Thread] = []
        if follow:
            self._watcher = threading.Thread(target=self._watch, name="swarm-logs", daemon=True)
            self._watcher.start()

    def __iter__(self) -> Iterator[LogLine]:
        if not self._follow:
            for task in self._tasks():
                yield from self._read(*task)
            return
        while True:
            item = self._lines.get()
            if item is _END:
                return
            assert isinstance(item, LogLine)
            yield item

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            sockets = [s for s in self._reading.values() if s is not None]
        for sock in sockets:  # shut down, not closed under the reader: its read ends
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._lines.put(_END)

    def _tasks(self) -> list[tuple[str, int, str]]:
        """(task id, slot, container id) of every task that has a container, oldest first."""
        tasks = self._client.api.tasks(filters={"service": service_name(self._app)})
        tasks.sort(key=lambda t: t.get("CreatedAt", ""))
        found = []
        for task in tasks:
            container = task.get("Status", {}).get("ContainerStatus", {}).get("ContainerID")
            if container:
                found.append((str(task["ID"]), int(task.get("Slot", 0)), str(container)))
        return found

    def _watch(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # an engine hiccup: the next round retries
                for task, slot, container in self._tasks():
                    with self._lock:
                        if container in self._reading or self._stop.is_set():
                            continue
                        self._reading[container] = None
                    reader = threading.Thread(
                        target=self._pump, args=(task, slot, container), daemon=True
                    )
                    self._readers.append(reader)
                    reader.start()
            self._stop.wait(POLL_S)

    def _pump(self, task: str, slot: int, container: str) -> None:
        for line in self._read(task, slot, container):
            self._lines.put(line)

    def _read(self, task: str, slot: int, container: str) -> Iterator[LogLine]:
        import docker.errors
        import urllib3.exceptions

        api: Any = self._client.api  # the SDK's own logs() drops which stream a frame is on
        params: dict[str, object] = {
            "follow": self._follow,
            "stdout": True,
            "stderr": True,
            "timestamps": True,
        }
        if self._since is not None:
            params["since"] = f"{self._since:.9f}"
        try:
            response = api._get(
                api._url("/containers/{0}/logs", container), params=params, stream=True
            )
            api._raise_for_status(response)
        except docker.errors.NotFound:
            return  # removed meanwhile (task history pruned)
        raw = api._get_raw_response_socket(response)
        api._disable_socket_timeout(raw)  # a follow may be idle for longer than the timeout
        with self._lock:
            self._reading[container] = getattr(raw, "_sock", raw)  # a unix socket's SocketIO
        if self._stop.is_set():
            return
        pending: dict[int, bytes] = {}
        try:
            for stream, data in _frames(response.raw):
                *lines, pending[stream] = (pending.get(stream, b"") + data).split(b"\n")
                for line in lines:
                    stamp, _, text = line.decode("utf-8", "replace").partition(" ")
                    yield LogLine(slot, task, STREAMS.get(stream, "stdout"), stamp, text)
        except (OSError, ValueError, urllib3.exceptions.HTTPError):
            return  # shut down under us
        finally:
            response.close()


def _frames(raw: Any) -> Iterator[tuple[int, bytes]]:
    """The engine's frames (8-byte header: stream, size) from an HTTP body that urllib3
    de-chunks."""
    while True:
        header = raw.read(HEADER.size)
        if len(header) < HEADER.size:
            return
        stream, size = HEADER.unpack(header)
        yield stream, raw.read(size)
