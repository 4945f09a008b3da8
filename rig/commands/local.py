"""`rig local`: run the Max platform (maxlocal) on this machine.

This is the only module of the client that touches `maxlocal`, and only
inside its handlers: the server runs as a separate process, started with the
same Python interpreter, and announces itself by writing `server.json` into
its data directory.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rig.cli import CommandTree
from rig.config import (
    LOCAL_DATA_ENV,
    LOCAL_PLATFORMS_FILE,
    ensure_config_dir,
    environment,
    local_data_dir,
    local_platforms,
    write_private,
)
from rig.context import Context
from rig.errors import RigError, UsageError
from rig.output import Result

DEFAULT_PORT = 7400
LOCAL_CONTEXT = "local"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
EXIT_PLATFORM_USAGE = 2
"""``maxlocal serve``'s exit code for options it refuses (``maxlocal.__main__.EXIT_USAGE``)."""
# What the platform imports beyond the client (pyproject.toml's `local` extra): the client
# alone installs none of it, so `rig local` checks before it starts a server that would die.
PLATFORM_MODULES = ("fastapi", "uvicorn", "cryptography", "psutil", "prometheus_client")
PLATFORM_INSTALL = "uv tool install 'maxrig[local]' (or: pip install 'maxrig[local]')"


def register(tree: CommandTree) -> None:
    tree.group("local", "run the Max platform on this machine")
    p = tree.add(
        "local start",
        start,
        "start the local platform in the background and log in to it",
        examples=["rig local start", "rig local start --port 0 --data /tmp/max -o json"],
    )
    _server_options(p)
    p = tree.add(
        "local serve",
        serve,
        "run the local platform in the foreground (Ctrl+C stops it)",
        examples=["rig local serve --port 8080"],
    )
    _server_options(p)
    p = tree.add("local stop", stop, "stop the local platform", examples=["rig local stop"])
    _data_option(p, remembered=True)
    p = tree.add(
        "local status",
        status,
        "say whether the local platform is running (exit 1 when it is not)",
        examples=["rig local status -o json"],
    )
    _data_option(p, remembered=True)
    p = tree.add(
        "local login",
        local_login,
        "log in to the local platform as its admin, with nothing to type",
        description="Log in to the local platform as its admin (admin@max.local). Nothing to "
        "type: rig reads the password from the platform's data directory (bootstrap.json).",
        examples=["rig local login", "rig local login --context local-other"],
    )
    _data_option(p, remembered=True)
    p = tree.add(
        "local user",
        add_user,
        "add a user to the local platform and print an API token for it",
        examples=["rig local user add dev@example.com"],
        description="Add a user to the local platform and print an API token for it. On a "
        "platform without isolation (`rig local status` says 'none — one trust domain') "
        "every user could read and change every other's apps, secrets and the platform: "
        "it refuses (exit 2) unless --single-trust-domain says that is accepted.",
    )
    p.add_argument("action", choices=["add"], help="what to do (add)")
    p.add_argument("email", help="the new user's email address")
    p.add_argument(
        "--single-trust-domain",
        action="store_true",
        help="add the user even though the platform has no isolation (isolation: none): "
        "every user can then read and change every other's apps, secrets and the platform",
    )
    _data_option(p, remembered=True)


def _data_option(p: argparse.ArgumentParser, *, remembered: bool = False) -> None:
    last = ", else the one `rig local start` last used" if remembered else ""
    p.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=None,
        help=f"the platform's data directory (default: $RIG_LOCAL_DATA{last}, "
        "else ~/.local/share/rig/local)",
    )


def _server_options(p: argparse.ArgumentParser) -> None:
    _data_option(p)
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    p.add_argument(
        "--access-ttl", type=int, metavar="SECONDS", help="lifetime of access tokens (default 900)"
    )
    p.add_argument("--refresh-ttl", type=int, metavar="SECONDS", help="lifetime of refresh tokens")
    p.add_argument(
        "--isolation",
        choices=["auto", "sandbox", "none"],
        default="auto",
        help="what apps, builds and shells run in: auto (the best this machine allows), "
        "sandbox (refuse to start without one), none (one trust domain)",
    )
    p.add_argument(
        "--runtime",
        metavar="NAME",
        default=None,
        help="what runs the apps (default: process, tenant processes on this machine; "
        "the platform lists the others it has)",
    )


def _data_dir(args: argparse.Namespace, *, remembered: bool = False) -> Path:
    """``--data``, else ``$RIG_LOCAL_DATA``, else (``remembered``: stop, status, user add)
    the platform of ``--context`` when it names a local one, else the data directory that
    ``rig local start`` or ``serve`` last used, else the default."""
    chosen = args.data
    if chosen is None and remembered and not environment().get(LOCAL_DATA_ENV):
        recorded = local_platforms()
        context = getattr(args, "context", None)
        named = recorded["contexts"].get(context) if context else None
        if context and named is None and context != LOCAL_CONTEXT:
            raise UsageError(
                f"context {context!r} is not a local platform's",
                hint="see `rig context list`; `rig local start --data DIR` names its context",
            )
        chosen = Path(named) if named else _path(recorded.get("data_dir"))
    return (chosen or local_data_dir()).expanduser().resolve()


def _path(value: Any) -> Path | None:
    return Path(value) if isinstance(value, str) and value else None


def _remember(data_dir: Path, *, started: bool = True) -> str:
    """Record ``data_dir`` as the one last started; the name of its login context: ``local``
    for the default data directory, ``local-<its name>`` for another, so that a second
    platform never takes over the first one's context (the first one's apps stay reachable)."""
    from rig.config import Contexts

    recorded = local_platforms()
    contexts: dict[str, str] = recorded["contexts"]
    name = _context_of(data_dir)
    if name is None and data_dir == local_data_dir().expanduser().resolve():
        name = LOCAL_CONTEXT
    if name is None:
        taken = set(contexts) | set(Contexts.load().contexts) | {LOCAL_CONTEXT}
        base = f"{LOCAL_CONTEXT}-{_slug(data_dir.name)}"
        name = next(n for n in (base, *(f"{base}-{i}" for i in range(2, 1000))) if n not in taken)
    contexts[name] = str(data_dir)
    if started:
        recorded["data_dir"] = str(data_dir)
    write_private(ensure_config_dir() / LOCAL_PLATFORMS_FILE, json.dumps(recorded) + "\n")
    return name


def _context_of(data_dir: Path) -> str | None:
    """The login context ``rig local start`` made for ``data_dir``, if it made one."""
    return next((n for n, d in local_platforms()["contexts"].items() if d == str(data_dir)), None)


def _slug(text: str) -> str:
    """A directory's name as a context name's part: lower case letters, digits and '-'."""
    import re

    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "data"


def require_platform() -> None:
    """Refuse, with the one line that installs it, when this rig was installed without the
    platform (the lean client, `maxrig` without `[local]`)."""
    from importlib.util import find_spec

    missing = [name for name in PLATFORM_MODULES if find_spec(name) is None]
    if missing:
        raise RigError(
            f"the local platform is not installed with this rig (missing: {', '.join(missing)})",
            hint=f"install it: {PLATFORM_INSTALL}",
            code="platform_not_installed",
        )


def start(ctx: Context, args: argparse.Namespace) -> Result:
    require_platform()
    data_dir = _data_dir(args)
    info = running_server(data_dir)
    already = info is not None
    if info is None:
        proc = _spawn(data_dir, args, foreground=False)
        info = _wait_until_ready(data_dir, proc)
    context = _remember(data_dir)
    login = _login_local(ctx, info["url"], data_dir, context)
    data = {
        "url": info["url"],
        "pid": info["pid"],
        "data_dir": str(data_dir),
        "context": context,
        "runtime": _runtime_of(info),
        "isolation": _isolation(info),
        "limits": info.get("limits"),
        "router": _router(info),
    }
    verb = "already running" if already else "started"
    message = (
        f"Max platform {verb} at {info['url']} (pid {info['pid']}, data {data_dir})\n"
        f"runtime: {_runtime(info)}\n"
        f"isolation: {_isolation(info)}\n"
        f"router: {_router(info)}\n"
        f"{_limits_line(info)}\n"
        f"Logged in as {login.get('user', '?')}; context '{context}' is now current"
        + ("" if context == LOCAL_CONTEXT else " (each local platform has a context of its own)")
        + "."
    )
    if not _has_networks(ctx, info["url"], context):  # the first step, only while there is none
        message += "\nNext: rig create network my-project"
    return Result(data=data, message=message, show_data=False)


def serve(ctx: Context, args: argparse.Namespace) -> Result:
    require_platform()
    data_dir = _data_dir(args)
    if running_server(data_dir) is not None:
        raise RigError(
            f"a local platform is already running for {data_dir}",
            hint="stop it with `rig local stop`, or pass another --data",
            code="already_running",
        )
    proc = _spawn(data_dir, args, foreground=True)
    try:
        info = _wait_until_ready(data_dir, proc)
        _login_local(ctx, info["url"], data_dir, _remember(data_dir))
        ctx.stderr.write(f"Max platform serving at {info['url']} (Ctrl+C stops it)\n")
        ctx.stderr.flush()
        code = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        code = _wait(proc, STOP_TIMEOUT_S)
    if code not in (0, -signal.SIGINT, -signal.SIGTERM):
        raise RigError(
            f"the local platform exited with code {code}", hint=f"see {data_dir / 'server.log'}"
        )
    return Result(
        data={"stopped": True, "data_dir": str(data_dir)},
        message="Max platform stopped.",
        show_data=False,
    )


def stop(ctx: Context, args: argparse.Namespace) -> Result:
    data_dir = _data_dir(args, remembered=True)
    info = running_server(data_dir)
    if info is None:
        return Result(
            data={"stopped": False, "running": False, "data_dir": str(data_dir)},
            message=f"No local platform is running for {data_dir}.",
            show_data=False,
        )
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    (data_dir / "server.json").unlink(missing_ok=True)
    return Result(
        data={"stopped": True, "running": False, "pid": pid, "data_dir": str(data_dir)},
        message=f"Stopped the local platform (pid {pid}).",
        show_data=False,
    )


def status(ctx: Context, args: argparse.Namespace) -> Result:
    data_dir = _data_dir(args, remembered=True)
    info = running_server(data_dir)
    if info is None:
        return Result(
            data={"running": False, "data_dir": str(data_dir)},
            message=f"Not running (data {data_dir}). Start it with `rig local start`.",
            show_data=False,
            exit_code=1,
        )
    require_platform()
    from maxlocal import admin

    context = _context_of(data_dir)
    data = {
        "running": True,
        "url": info["url"],
        "pid": info["pid"],
        "data_dir": str(data_dir),
        "context": context,
        "started_at": info.get("started_at"),
        "admin": admin.bootstrap_credentials(data_dir)["email"],
        "runtime": _runtime_of(info),
        "isolation": _isolation(info),
        "limits": info.get("limits"),
        "router": _router(info),
        "login": f"rig local login --context {context}"
        if context
        else f"rig local login --data {data_dir}",
    }
    fields = [
        "running",
        "url",
        "pid",
        "data_dir",
        "context",
        "started_at",
        "runtime",
        "isolation",
        "limits",
        "router",
        "admin",
        "login",
    ]
    view = {
        **data,
        "runtime": _runtime(info),
        "limits": _limits_line(info).removeprefix("limits: "),
    }
    return Result(data=data, view=view, fields=fields)


def local_login(ctx: Context, args: argparse.Namespace) -> Result:
    require_platform()
    data_dir = _data_dir(args, remembered=True)
    info = running_server(data_dir)
    if info is None:
        raise RigError(
            f"no local platform is running for {data_dir}",
            hint="`rig local start` starts it and logs you in",
        )
    context = _remember(data_dir, started=False)
    login = _login_local(ctx, info["url"], data_dir, context)
    return Result(
        data={"context": context, "api": info["url"], "user": login.get("user")},
        message=f"Logged in to {info['url']} as {login.get('user', '?')} (context {context}).",
        show_data=False,
    )


def _runtime_of(info: dict[str, Any]) -> dict[str, Any]:
    """What runs the apps (``maxlocal serve --runtime``): ``{"name", "detail", ...}`` as
    server.json says (a platform from before runtime drivers ran processes)."""
    found = info.get("runtime")
    if not isinstance(found, dict):
        return {"name": "process", "detail": "a platform from before runtime drivers"}
    return found


def _runtime(info: dict[str, Any]) -> str:
    found = _runtime_of(info)
    return f"{found['name']} — {found['detail']}"


def _isolation(info: dict[str, Any]) -> str:
    """What the running platform's tenant processes run in, as server.json says."""
    from maxlocal.runtime.sandbox import describe

    found = info.get("isolation")
    if not isinstance(found, dict):
        return "unknown (a platform from before isolation)"
    return describe(str(found.get("mode")), str(found.get("detail")))


def _router(info: dict[str, Any]) -> str:
    """What forwards visitors to apps, as server.json says (``maxlocal.edge``)."""
    found = info.get("router")
    if not isinstance(found, dict):
        return "in-process (a platform from before the edge)"
    if found.get("mode") == "haproxy":
        return f"haproxy — {found.get('detail')}"
    return f"in-process — slower, no WebSockets: {found.get('detail')}"


def _isolation_mode(data_dir: Path) -> str:
    """The running platform's isolation mode, else what a platform started now would get."""
    from maxlocal.runtime.sandbox import AUTO, choose

    info = running_server(data_dir)
    found = info.get("isolation") if info else None
    if isinstance(found, dict):
        return str(found.get("mode"))
    return choose(AUTO).mode


def _limits_line(info: dict[str, Any]) -> str:
    """``limits: cgroup v1 — per app by default: memory 512 MiB, ...``, as the platform
    wrote it in its ``server.json`` (one that predates limits says nothing of them)."""
    limits = info.get("limits")
    summary = limits.get("summary") if isinstance(limits, dict) else None
    return f"limits: {summary or 'unknown (the platform does not say)'}"


def add_user(ctx: Context, args: argparse.Namespace) -> Result:
    require_platform()
    from maxlocal import admin

    data_dir = _data_dir(args, remembered=True)
    if not (data_dir / "bootstrap.json").exists():
        raise UsageError(
            f"no local platform has been set up in {data_dir}", hint="run `rig local start` first"
        )
    if not args.single_trust_domain and _isolation_mode(data_dir) == "none":
        raise UsageError(
            "this platform has no isolation (isolation: none): a second user could read "
            "and change every other user's apps and secrets, and the platform itself",
            hint="install bubblewrap (scripts/install-system-deps) and restart the platform, "
            "or pass --single-trust-domain if every user may be trusted with everything",
            code="no_isolation",
        )
    try:
        created = admin.add_user(data_dir, args.email)
    except ValueError as exc:
        raise UsageError(str(exc), hint="give a valid, unused email address") from exc
    info = running_server(data_dir)
    login = f"rig login --api {info['url'] if info else 'URL'} --token {created['token']}"
    message = (
        f"Added {created['email']}. API token (shown once):\n{created['token']}\n"
        f"Log in with: {login}"
        + ("" if info else "\n(the platform is not running: `rig local start` prints its URL)")
    )
    return Result(data=created, message=message, show_data=False)


def running_server(data_dir: Path) -> dict[str, Any] | None:
    """The contents of server.json if its process is alive, else None."""
    try:
        info: dict[str, Any] = json.loads((data_dir / "server.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not _is_maxlocal(int(info.get("pid", 0))):
        return None
    return info


def _is_maxlocal(pid: int) -> bool:
    """Alive and really a maxlocal server (a recycled pid is not)."""
    if not _alive(pid):
        return False
    try:
        return b"maxlocal" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid


def _spawn(
    data_dir: Path, args: argparse.Namespace, *, foreground: bool
) -> subprocess.Popen[bytes]:
    if not 0 <= args.port <= 65535:
        raise UsageError(
            f"invalid port {args.port}", hint="use a number from 1 to 65535, or 0 for a free port"
        )
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (data_dir / "server.json").unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "maxlocal",
        "serve",
        "--data",
        str(data_dir),
        "--port",
        str(args.port),
    ]
    if args.access_ttl:
        command += ["--access-ttl", str(args.access_ttl)]
    if args.refresh_ttl:
        command += ["--refresh-ttl", str(args.refresh_ttl)]
    command += ["--isolation", args.isolation]
    if args.runtime:
        command += ["--runtime", args.runtime]
    # The platform's log is its operator's alone (0600, also one an older rig made 0644).
    fd = os.open(data_dir / "server.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    log = os.fdopen(fd, "ab")
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=not foreground,
        )
    finally:
        log.close()


def _wait_until_ready(data_dir: Path, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        code = proc.poll()
        if code == EXIT_PLATFORM_USAGE:  # e.g. an unknown --runtime: the platform says which
            raise UsageError(
                _last_log_line(data_dir).removeprefix("maxlocal: "),
                hint=f"the platform refused its options; see {data_dir / 'server.log'}",
            )
        if code is not None:
            raise RigError(
                f"the local platform exited during start-up: {_last_log_line(data_dir)}",
                hint=f"see {data_dir / 'server.log'}; try another --port (0 picks a free one)",
                code="start_failed",
            )
        info = running_server(data_dir)
        if info is not None and int(info["pid"]) == proc.pid:
            return info
        time.sleep(0.05)
    proc.kill()
    raise RigError(
        f"the local platform did not start within {START_TIMEOUT_S:.0f} s",
        hint=f"see {data_dir / 'server.log'}",
        code="start_failed",
    )


def _login_local(ctx: Context, url: str, data_dir: Path, context: str) -> dict[str, Any]:
    from maxlocal import admin
    from rig.api.auth import login

    creds = admin.bootstrap_credentials(data_dir)
    return login(url, context_name=context, email=creds["email"], password=creds["password"])


def _has_networks(ctx: Context, url: str, context: str) -> bool:
    """Whether the local admin has a network yet, asked as that platform's own context (RIG_TOKEN,
    meant for another platform, is not sent); False when the platform cannot say."""
    env = {k: v for k, v in ctx.env.items() if k != "RIG_TOKEN"}
    local = Context(context_name=context, api_url=url, insecure=ctx.insecure, env=env)
    try:
        return bool(local.api().networks())
    except RigError:
        return False
    finally:
        local.close()


def _last_log_line(data_dir: Path) -> str:
    try:
        lines = (data_dir / "server.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "no output"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> int:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
