"""The runtime driver under test (tests/runtime, tests/limits): fixtures ``events`` and
``driver``, and the helpers that build releases and serve ASGI apps. A plugin of the suite
(``pytest_plugins`` in tests/conftest.py), so any folder's tests may ask for its fixtures."""

from __future__ import annotations

import shlex
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
import uvicorn

from maxlocal.runtime.supervisor import LocalProcessDriver, Release, State

PY = shlex.quote(sys.executable)

# A tiny web app: answers "<VERSION>\n", exits with code 7 on /crash.
WEB_APP = """\
import http.server, os

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/crash":
            os._exit(7)
        body = (os.environ.get("VERSION", "?") + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass

print("listening on", os.environ["PORT"], flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def make_release(
    root: Path,
    number: int,
    processes: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    app: str = "shop/api",
) -> Release:
    path = root / f"release-{number}"
    path.mkdir(parents=True)
    (path / "app.py").write_text(WEB_APP)
    return Release(
        app=app,
        number=number,
        path=path,
        processes=processes or {"web": f"{PY} app.py"},
        env=env or {"VERSION": f"v{number}"},
    )


class Events:
    """Collects the driver's log lines and state changes."""

    def __init__(self) -> None:
        self.logs: list[tuple[str, str, str, str]] = []
        self.states: list[tuple[float, str, State, dict[str, Any]]] = []

    def log(self, app: str, stream: str, line: str, *, process: str) -> None:
        self.logs.append((app, stream, line, process))

    def state(self, app: str, state: State, details: dict[str, Any]) -> None:
        self.states.append((time.monotonic(), app, state, details))

    def names(self) -> list[State]:
        return [state for _, _, state, _ in self.states]


def gone(pid: int) -> bool:
    """The process has ended (a zombie not yet reaped counts: it runs no more)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def events() -> Events:
    return Events()


def quick_driver(events: Events, **options: Any) -> LocalProcessDriver:
    """A driver with short waits (``options`` on top: ``cgroups=...``)."""
    quick: dict[str, Any] = {
        "health_timeout": 10,
        "settle_s": 0.3,
        "backoff_base": 0.2,
        "backoff_cap": 2,
        "stop_grace": 1,
        "drain_s": 0.3,
    }
    return LocalProcessDriver(events.log, events.state, **{**quick, **options})


@pytest.fixture
def driver(events: Events) -> Iterator[LocalProcessDriver]:
    d = quick_driver(events)
    yield d
    d.close()


@contextmanager
def serve_asgi(app: Any) -> Iterator[int]:
    """Run ``app`` with uvicorn on a free loopback port; yield the port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=5)
