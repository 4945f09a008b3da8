"""What the platform serves, read from its own tables rather than listed by hand: every HTTP
route of the app ``maxlocal.server.build_app`` makes (the OpenAPI document leaves some out:
``/metrics``, ``/device``) and every topic pattern of its realtime socket.

``python -m tests.reliability.served DATA_DIR`` prints them as JSON; ``served()`` runs that in
a separate process, so building the app (a database, a runtime) leaves nothing in the test's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.cli import ROOT

IGNORED_METHODS = {"HEAD"}  # answered as the GET of the same route


@dataclass(frozen=True)
class Served:
    routes: list[tuple[str, str]]  # (method, path template), e.g. ("GET", "/api/v1/networks")
    socket_paths: list[str]
    topics: list[str]  # topic patterns, e.g. "logs:*" (a prefix) or "status:user"


def served(data_dir: Path) -> Served:
    data_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "tests.reliability.served", str(data_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    tables = json.loads(done.stdout)
    routes = [(method, path) for method, path in tables["routes"]]
    return Served(routes, tables["socket_paths"], tables["topics"])


def _tables(data_dir: Path) -> dict[str, list[object]]:
    from fastapi.routing import iter_route_contexts
    from starlette.routing import WebSocketRoute

    from maxlocal.server import ServeOptions, build_app, open_platform

    app = build_app(open_platform(data_dir, ServeOptions(data_dir=data_dir), 0)).app
    routes: list[object] = []
    sockets: list[object] = []
    topics: list[object] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, WebSocketRoute):
            sockets.append(route.path)
            endpoint = getattr(route.endpoint, "__self__", None)  # SocketEndpoint.handle
            topics += list(getattr(endpoint, "handlers", {}))
            continue
        for method in sorted((context.methods or set()) - IGNORED_METHODS):
            routes.append([method, context.path])
    return {"routes": routes, "socket_paths": sockets, "topics": topics}


if __name__ == "__main__":
    print(json.dumps(_tables(Path(sys.argv[1]))))
