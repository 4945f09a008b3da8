"""The fast tier (tests/inprocess): maxlocal and rig both in the test's own process.

``InProcessPlatform`` is maxlocal's real ASGI app (``server.build_app``: every router, the
socket, the host router, the lifespan that recovers and closes the runtime) served by uvicorn
in a thread, on a loopback port. ``InProcessRig`` runs a rig command through rig's own
``main()`` with its streams captured, logged in through ``RIG_API`` and ``RIG_TOKEN``: the
production path (parser, Context, runner, ``rig.api``, the stdlib HTTP client), minus the
interpreter start-up a subprocess costs (~0.3 s a command on a loaded machine). What only a
real process shows (exit status, signals, terminals, start-up imports) stays in the subprocess
tier (tests/support/cli.py).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from maxlocal.auth import Auth
from maxlocal.crypto import Vault
from maxlocal.http11 import HEAD_LIMIT, LimitedH11Protocol
from maxlocal.layout import Layout
from maxlocal.platform import Platform, RuntimeOptions, Settings
from maxlocal.server import bind, build_app, url_for
from maxlocal.store.db import Database
from rig.output.logs import _HANDLER_NAME as VERBOSE_HANDLER
from tests.support.cli import Run
from tests.support.rig_main import run_main

START_TIMEOUT = 30.0  # a wait, not a target


class InProcessPlatform:
    """A maxlocal platform in this process; ``user()`` makes an account without HTTP."""

    def __init__(self, data_dir: Path, options: RuntimeOptions | None = None) -> None:
        # As open_platform, without the bootstrap user (its scrypt hash is slow) and without
        # process isolation: this tier deploys nothing. ``options``: a test that reaches into
        # the runtime's engine (tests/swarm) runs its own driver.
        db = Database.open(data_dir)
        sock = bind(ipaddress.ip_address("127.0.0.1"), 0)
        self.url = url_for(sock)
        settings = Settings(app_port=sock.getsockname()[1])
        options = options or RuntimeOptions(Layout(data_dir), isolation="none")
        self.platform = Platform.build(db, Auth(db), Vault.open(data_dir), settings, options)
        config = uvicorn.Config(
            build_app(self.platform),
            log_config=None,
            lifespan="on",
            http=LimitedH11Protocol,
            h11_max_incomplete_event_size=HEAD_LIMIT,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="maxlocal", daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process platform did not start")
            time.sleep(0.01)

    def user(self, name: str = "user") -> tuple[str, str]:
        """A new user with an empty account: (email, API token)."""
        email = f"{name}-{uuid.uuid4().hex[:12]}@example.com"
        user = self.platform.auth.users.create(email, "no password: API tokens only")
        return email, self.platform.auth.create_api_token(user.id, f"{name} token")[1]

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class InProcessRig:
    """``rig(*args)`` as tests.support.cli.Rig, run in this process (``rig.__main__.main``,
    tests/support/rig_main.py) against ``url`` as the holder of ``token``."""

    url: str
    token: str
    config_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Run:
        # ``-v``'s handler writes to the stderr of the run that added it: each run its own.
        verbose = logging.getLogger("rig")
        for handler in [h for h in verbose.handlers if h.get_name() == VERBOSE_HANDLER]:
            verbose.removeHandler(handler)
        login = {"RIG_API": self.url, "RIG_TOKEN": self.token}
        state = {"RIG_STATE_DIR": str(self.config_dir.parent / "rig-state")}
        return run_main(
            args, self.config_dir, {**login, **state, **self.env, **(env or {})}, input or ""
        )

    def ok(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
        """Run and insist on exit 0."""
        run = self(*args, input=input, env=env)
        assert run.code == 0, str(run)
        return run
