from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from tests.realtime.app import LogStore, ServerThread

T = TypeVar("T")


def arun(coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
    """Run a client coroutine on a fresh loop in this thread, with a time limit."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def store() -> LogStore:
    return LogStore()


@pytest.fixture
def server(store: LogStore) -> Iterator[ServerThread]:
    server = ServerThread(store)
    server.start()
    yield server
    server.stop()
