"""A test platform built from the realtime pieces, with fake-but-real injected callables."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette

from maxlocal.realtime import PubSub, PubSubHandler, ServerChannel, SocketEndpoint
from maxlocal.realtime.topics import FeedHandler, FeedRead

TOKENS = {"tok-alice": "alice", "tok-alice-2": "alice", "tok-bob": "bob"}
NETWORKS = {"alpha": "alice", "beta": "bob"}


def authenticate(token: str) -> str | None:
    return TOKENS.get(token)


def authorize(user_id: str, topic: str) -> bool:
    if topic == "status:user" or topic.startswith("echo:"):
        return True
    network = topic.split(":", 2)[-1].split("/", 1)[0]
    return NETWORKS.get(network) == user_id


class LogStore:
    """Numbered lines per topic, keeping the last ``retention``; publishes as it appends.

    ``logs:*`` topics are served from it as a ``Feed`` (what maxlocal does), ``pushed:*``
    by pushing each line as it comes (``PubSubHandler`` with ``history``: a platform that
    streams the old way)."""

    def __init__(self, retention: int = 100_000) -> None:
        self.retention = retention
        self.pubsub: PubSub | None = None
        self._lock = threading.Lock()
        self._records: dict[str, list[dict[str, Any]]] = {}

    def append(self, topic: str, line: str, app: str = "web") -> dict[str, Any]:
        with self._lock:
            records = self._records.setdefault(topic, [])
            seq = records[-1]["seq"] + 1 if records else 1
            record = {"seq": seq, "ts": time.time(), "app": app, "stream": "stdout", "line": line}
            records.append(record)
            del records[: -self.retention]
            if self.pubsub is not None:
                self.pubsub.publish(topic, "log", record)
        return record

    def history(self, topic: str, after: int) -> tuple[list[dict[str, Any]], int | None]:
        with self._lock:
            records = self._records.get(topic, [])
            first = records[0]["seq"] if records else None
            return [r for r in records if r["seq"] > after], first

    # the Feed

    def read(self, topic: str, after: int, most: int, batches: bool = False) -> FeedRead | None:
        with self._lock:
            records = [r for r in self._records.get(topic, []) if r["seq"] > after][:most]
        if not records:
            return None
        if batches:  # one batch per record: the client must take any split
            items = [
                json.dumps({k: v for k, v in r.items() if k != "line"} | {"lines": [r["line"]]})
                for r in records
            ]
        else:
            items = [json.dumps(r) for r in records]
        return records[0]["seq"], records[-1]["seq"], items

    def last_seq(self, topic: str) -> int:
        with self._lock:
            records = self._records.get(topic, [])
            return int(records[-1]["seq"]) if records else 0

    def hold(self, topic: str, seq: int) -> None:
        return None


class Echo:
    """``echo:*`` topics: every push is answered ok with its own payload; records joins."""

    def __init__(self) -> None:
        self.joins: list[tuple[str | None, dict[str, Any]]] = []

    async def join(self, channel: ServerChannel, params: dict[str, Any]) -> dict[str, Any]:
        self.joins.append((channel.join_ref, params))
        return {"joined": channel.topic}

    async def joined(self, channel: ServerChannel) -> None:
        pass

    async def handle_in(
        self, channel: ServerChannel, event: str, payload: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        if event == "noreply":
            return None
        return "ok", {"event": event, **payload}


def build_app(
    store: LogStore,
    pubsub: PubSub,
    echo: Echo,
    tokens_seen: list[str],
    idle_timeout: float = 60.0,
    max_queue: int = 10_000,
) -> Starlette:
    def recording_authenticate(token: str) -> str | None:
        tokens_seen.append(token)
        return authenticate(token)

    endpoint = SocketEndpoint(
        authenticate=recording_authenticate,
        authorize=authorize,
        handlers={
            "logs:*": FeedHandler(pubsub, store),
            "pushed:*": PubSubHandler(pubsub, history=store.history),
            "echo:*": echo,
            "status:user": PubSubHandler(pubsub, pubsub_topic=lambda t, user: f"{t}:{user}"),
        },
        idle_timeout=idle_timeout,
        max_queue=max_queue,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        pubsub.bind(asyncio.get_running_loop())
        yield

    return Starlette(routes=[endpoint.route()], lifespan=lifespan)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """uvicorn on 127.0.0.1 in a thread of its own; can be stopped and started again on the
    same port. Each start gets a fresh pub/sub (a restarted platform), the store survives."""

    def __init__(
        self,
        store: LogStore,
        port: int | None = None,
        idle_timeout: float = 60.0,
        max_queue: int = 10_000,
    ):
        self.store, self.idle_timeout, self.max_queue = store, idle_timeout, max_queue
        self.echo = Echo()
        self.tokens_seen: list[str] = []
        self.port = port or free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        pubsub = PubSub()
        self.store.pubsub = pubsub
        config = uvicorn.Config(
            build_app(
                self.store, pubsub, self.echo, self.tokens_seen, self.idle_timeout, self.max_queue
            ),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=5,  # as maxlocal: a stop never waits on a connection
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(10)
        if self._thread.is_alive():  # a second server on the port would hide what went wrong
            raise RuntimeError("the test server did not stop")
        self.store.pubsub = None
