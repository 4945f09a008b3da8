"""Two users on one real platform, and the attacker's code run in each kind of tenant process.

alice deploys an app with a secret; bob deploys ``tenant/attack.py`` (with what the test
knows about alice and the platform in ``targets.json``) and runs it from his build, his app
process and his exec sessions. One platform per isolation mode per test module: ``none``
proves each attack real (it must succeed there), the sandbox must refuse it.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import re
import shlex
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pexpect

from tests.deploy.conftest import Api, archive
from tests.isolation.tenant.attack import answer
from tests.support.apps import GREETING_APP
from tests.support.cli import Rig, Run, base_env
from tests.support.platform import Platform, stop_for_good

ROOT = Path(__file__).resolve().parents[2]
TENANT = Path(__file__).with_name("tenant")
PYTHON = "/usr/bin/python3"  # the system's: the platform's own interpreter is not the tenant's
MODES = ("none", "sandbox")
"""``none``: today's one trust domain (``--isolation none``); ``sandbox``: the sandbox,
refusing to start without it."""
LIMITS = {"none": "off", "sandbox": "auto"}
"""``--limits`` by mode, for the exhaustion attacks (iso-limits' cgroups)."""
HEALTH_TIMEOUT = 150  # seconds: a wait, far beyond any start on a loaded machine
RESULT = re.compile(r"ATTACK-RESULT (\{.*\})")
ALICE_NET, ALICE_APP = "alicenet", "shop"
BOB_NET, BOB_APP = "bobnet", "tools"
BOB_PROCFILE = f"web: {PYTHON} attack.py serve"
SECRET_NAME = "ALICE_SECRET"
PLATFORM_MARKER = "PLATFORM_ONLY_MARKER"

ALICE_PAGE = "alice's shop"


class HostServer(http.server.ThreadingHTTPServer):
    """A server on the host's loopback that the test starts (a stand-in for any service
    there, or for the internet): ``GET /`` answers its ``token``."""

    def __init__(self) -> None:
        self.token = f"host-loopback-{uuid.uuid4().hex}"
        super().__init__(("127.0.0.1", 0), _TokenHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _TokenHandler(http.server.BaseHTTPRequestHandler):
    server: HostServer

    def do_GET(self) -> None:
        answer(self, self.server.token.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class World:
    """The platform of one mode, alice's running app and bob's deployed attacker."""

    mode: str
    platform: Platform
    alice: Api
    alice_email: str
    secret: str
    bob: Rig
    bob_api: Api
    operator_home: Path
    platform_marker: str
    host_tmp: Path
    """A world-readable file in the host's /tmp (a tenant's /tmp must be its own)."""
    host_server: HostServer
    targets: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """The attack results of each context, once it has run (``report``)."""

    @property
    def bob_target(self) -> tuple[str, ...]:
        return ("--app", BOB_APP, "--network", BOB_NET)

    def alice_status(self) -> dict[str, Any]:
        return self.alice.status(ALICE_NET, ALICE_APP)

    def command(self, script: str, *extra: str) -> Run:
        """``rig command SCRIPT`` as bob, in his app."""
        return self.bob("command", script, *self.bob_target, *extra)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def operator_environment(home: Path, marker: str) -> Iterator[None]:
    """The platform started with ``HOME`` an operator's home holding rig credentials, and a
    variable only the platform has (what a tenant reading its environment would get)."""
    saved = {k: os.environ.get(k) for k in ("HOME", PLATFORM_MARKER)}
    os.environ.update(HOME=str(home), **{PLATFORM_MARKER: marker})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def start_platform(
    base: Path, mode: str, home: Path, marker: str, options: dict[str, Any]
) -> Platform:
    """A platform whose server log is ``<data>/server.log``, where ``rig local start`` puts it."""
    data_dir = base / "data"
    data_dir.mkdir(mode=0o700, parents=True)
    platform = Platform(data_dir, health_timeout=HEALTH_TIMEOUT, isolation=mode, **options)
    platform.log_path = data_dir / "server.log"
    with operator_environment(home, marker):
        return platform.start()


def operator_home(base: Path) -> Path:
    home = base / "operator-home"
    config = home / ".config" / "rig"
    config.mkdir(parents=True)
    token = f"operator-token-{uuid.uuid4().hex}"
    (config / "credentials.json").write_text(json.dumps({"token": token}) + "\n")
    (config / "credentials.json").chmod(0o600)
    return home


def host_tmp_file() -> Path:
    fd, name = tempfile.mkstemp(prefix="rig-host-tmp-", dir="/tmp")
    os.write(fd, f"host /tmp {uuid.uuid4().hex}\n".encode())
    os.close(fd)
    os.chmod(name, 0o644)
    return Path(name)


def attacker_source(targets: dict[str, Any], *, procfile: str, build: str | None) -> bytes:
    """bob's source: the attacker, what he knows, and ``build`` as his build's arguments to
    ``attack.py`` (none: no build command)."""
    files: dict[str, str | bytes] = {
        "attack.py": (TENANT / "attack.py").read_text(),
        "targets.json": json.dumps(targets),
        "Procfile": procfile + "\n",
    }
    if build is not None:
        files["rig.toml"] = f"build = {shlex.join([PYTHON, 'attack.py', *build.split()])!r}\n"
    return archive(files)


def results_in(text: str) -> dict[str, dict[str, Any]]:
    """The attack results the tenant printed (the last report in ``text``)."""
    found = RESULT.findall(text)
    assert found, f"no attack report in:\n{text[-3000:]}"
    return dict(json.loads(found[-1])["results"])


def make_world(base: Path, mode: str, **options: Any) -> World:
    """Start the platform of ``mode`` (with ``options`` as flags); alice's app (with a secret)
    running, bob's attacker deployed (its build has run the attacks once)."""
    home = operator_home(base)
    marker = f"platform-only-{uuid.uuid4().hex}"
    platform = start_platform(base, mode, home, marker, options)
    try:
        return _populate(base, mode, platform, home, marker)
    except BaseException:
        stop_for_good(platform)
        raise


def _populate(base: Path, mode: str, platform: Platform, home: Path, marker: str) -> World:
    alice_user = platform.add_user("alice@alice.example")
    alice = Api(platform, alice_user["token"])
    secret = f"alice-secret-{uuid.uuid4().hex}"
    assert alice.http.post("/networks", json={"name": ALICE_NET}).status_code == 201
    assert alice.http.post(f"/networks/{ALICE_NET}/apps", json={"name": ALICE_APP}).is_success
    base_path = f"/networks/{ALICE_NET}/apps/{ALICE_APP}"
    assert alice.http.patch(
        f"{base_path}/secrets", json={"secrets": {SECRET_NAME: secret}}
    ).is_success
    shop = {"GREETING": ALICE_PAGE}
    assert alice.http.patch(f"{base_path}/vars", json={"vars": shop}).is_success
    source = archive({"alice_app.py": GREETING_APP, "Procfile": f"web: {PYTHON} alice_app.py\n"})
    release = alice.deploy(ALICE_NET, ALICE_APP, source)
    assert release["status"] == "active", release

    bob_user = platform.add_user("bob@bob.example")
    bob = Rig(base / "bob-config")
    bob.ok("login", "--api", platform.url, "--token", bob_user["token"])
    bob.platform, bob.user = platform, bob_user
    world = World(
        mode=mode,
        platform=platform,
        alice=alice,
        alice_email=alice_user["email"],
        secret=secret,
        bob=bob,
        bob_api=Api(platform, bob_user["token"]),
        operator_home=home,
        platform_marker=marker,
        host_tmp=host_tmp_file(),
        host_server=HostServer(),
    )
    world.targets = targets(world, release["number"])
    bob_http = world.bob_api.http
    assert bob_http.post("/networks", json={"name": BOB_NET}).status_code == 201
    assert bob_http.post(f"/networks/{BOB_NET}/apps", json={"name": BOB_APP}).is_success
    procfile = BOB_PROCFILE
    attacker = attacker_source(world.targets, procfile=procfile, build="build")
    deployed = world.bob_api.deploy(BOB_NET, BOB_APP, attacker)
    assert deployed["status"] == "active", deployed
    return world


def targets(world: World, release: int) -> dict[str, Any]:
    """What bob is told about alice and the platform: pids, ports and paths (an attacker can
    find them all without the sandbox, by ``ps`` and listing directories)."""
    from maxlocal.builders.toolbox import Toolbox
    from maxlocal.layout import Layout

    layout = Layout(world.platform.data_dir)
    uv_cache = Toolbox(layout.cache).download_caches[0]
    uv_cache.mkdir(parents=True, exist_ok=True)
    web = next(p for p in world.alice_status()["processes"] if p["name"] == "web")
    assert world.platform.process is not None
    release_dir = layout.release_dir(ALICE_NET, ALICE_APP, release)
    return {
        "alice_pid": web["pids"][0],
        "alice_email": world.alice_email,
        "alice_port": web["port"],
        "platform_pid": world.platform.process.pid,
        "platform_port": world.platform.port,
        "host_server_port": world.host_server.port,
        "data_dir": str(world.platform.data_dir),
        "alice_release": str(release_dir),
        "alice_home": str(layout.home(ALICE_NET, ALICE_APP)),
        "operator_config": str(world.operator_home / ".config" / "rig"),
        "tenant_dirs": [str(layout.releases), str(layout.homes / "apps")],
        "build_cache": str(uv_cache),
        "files": {
            "db": str(world.platform.data_dir / "maxlocal.db"),
            "secrets_key": str(world.platform.data_dir / "secrets.key"),
            "bootstrap": str(world.platform.data_dir / "bootstrap.json"),
            "server_log": str(world.platform.log_path),
            "operator_credentials": str(world.operator_home / ".config/rig/credentials.json"),
            "alice_source": str(release_dir / "alice_app.py"),
            "platform_code": str(ROOT / "maxlocal" / "__init__.py"),
            "host_tmp": str(world.host_tmp),
        },
    }


CONTEXTS = ("build", "app", "command", "shell")
"""Where bob's attacker runs: his build, his app's web process, ``rig command``, and ``rig shell``
on a pseudo-terminal."""


def report(world: World, context: str) -> dict[str, dict[str, Any]]:
    """Run every attack from ``context`` (the build's ran at deploy) and return the results."""
    if context == "build":
        lines = world.bob_api.logs(BOB_NET, BOB_APP, "build")
        return results_in("\n".join(str(r["line"]) for r in lines))
    if context == "app":
        response = httpx.get(
            f"http://127.0.0.1:{world.platform.port}/attack",
            headers={"Host": f"{BOB_APP}.{BOB_NET}.localhost:{world.platform.port}"},
            timeout=60,
            trust_env=False,
        )
        assert response.status_code == 200, response.text
        return results_in(response.text)
    if context == "command":
        run = world.command(f"{PYTHON} attack.py command")
        assert run.code == 0, str(run)
        return results_in(run.out)
    assert context == "shell", context
    return results_in(shell_transcript(world, f"{PYTHON} attack.py shell; exit"))


def shell_transcript(world: World, line: str) -> str:
    """What a ``rig shell`` in a real terminal showed while bob typed ``line`` (which exits)."""
    env = base_env(world.bob.config_dir)
    env["TERM"] = "xterm"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "rig", "shell", *world.bob_target],
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 200),
    )
    try:
        child.expect_exact(f"{BOB_APP}.{BOB_NET}")
        child.sendline(line)
        child.expect(pexpect.EOF)
        return str(child.before)
    finally:
        child.close(force=True)
