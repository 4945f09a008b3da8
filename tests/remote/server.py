"""A test platform for remote access, built from the real pieces: the realtime endpoint, the
exec handler, the session manager, the audit trail on a real database and the audit/sessions
router. ``python -m tests.remote.server DATA_DIR [IDLE_TIMEOUT]`` prints ``PORT`` once serving.

Alice (``tok-alice``, user 1) owns network ``shop`` with app ``api``; Bob (``tok-bob``) owns
nothing. The app's "release" is ``DATA_DIR/release`` (with ``marker.txt``); its environment
has the var ``GREETING`` and the secret ``API_KEY``; the network's has ``REGION``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request

from maxlocal.api import audit
from maxlocal.api.deps import current_user
from maxlocal.audit import AuditTrail
from maxlocal.errors import Unauthorized
from maxlocal.realtime import SocketEndpoint
from maxlocal.remote.channel import ExecHandler
from maxlocal.remote.sessions import SessionManager
from maxlocal.remote.target import ResolveTarget, Target, parse_topic
from maxlocal.runtime.proc import child_env
from maxlocal.store.audit import AuditLog
from maxlocal.store.db import Database
from maxlocal.store.users import User, Users

TOKENS = {"tok-alice": "1", "tok-bob": "2"}
GREETING = "hello from the platform"
SECRET = "s3cr3t-Value-42"
RELEASE_MARKER = "the release directory"


def resolver(data_dir: Path) -> ResolveTarget:
    release, network_dir = data_dir / "release", data_dir / "network-shop"
    for folder in (release, network_dir):
        folder.mkdir(parents=True, exist_ok=True)
    (release / "marker.txt").write_text(RELEASE_MARKER + "\n")

    def resolve_target(user_id: str, topic: str) -> Target | None:
        ref = parse_topic(topic)
        if user_id != "1" or ref is None or ref.network != "shop":
            return None
        if ref.app is None:
            return Target(network_dir, child_env({"REGION": "eu"}), "shop")
        if ref.app != "api":
            return None
        env = child_env({"GREETING": GREETING, "API_KEY": SECRET}, release)
        return Target(release, env, "api.shop", secret_values=[SECRET])

    return resolve_target


def build(data_dir: Path, idle_timeout: float) -> tuple[FastAPI, SessionManager]:
    db = Database(data_dir / "test.db")
    users = Users(db)
    if users.count() == 0:
        users.create("alice@example.com", "x")
        users.create("bob@example.com", "x")
    trail = AuditTrail(AuditLog(db))
    sessions = SessionManager(idle_timeout=idle_timeout)
    endpoint = SocketEndpoint(
        authenticate=TOKENS.get,
        authorize=lambda _user, _topic: True,
        handlers={"exec:*": ExecHandler(sessions, resolver(data_dir), trail)},
    )

    def user_of(request: Request) -> User:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        user = users.get(int(TOKENS[token])) if token in TOKENS else None
        if user is None:
            raise Unauthorized("bad token")
        return user

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(sessions.close)

    app = FastAPI(lifespan=lifespan)
    app.include_router(audit.router(trail, sessions), prefix="/api/v1")
    app.dependency_overrides[current_user] = user_of
    app.router.routes.append(endpoint.route())
    return app, sessions


def main() -> None:
    data_dir = Path(sys.argv[1])
    idle_timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 3600.0
    app, _sessions = build(data_dir, idle_timeout)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
