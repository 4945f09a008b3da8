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
    config_dir,
    ensure_config_dir,
    environment,
    local_data_dir,
    read_json,
    write_private,
)
from rig.context import Context
from rig.errors import RigError, UsageError
from rig.output import Result

DEFAULT_PORT = 7400
LOCAL_CONTEXT = "local"
LAST_STARTED_FILE = "local.json"  # in the config directory: the data directory last started
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


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
        "local user",
        add_user,
        "add a user to the local platform and print an API token for it",
        examples=["rig local user add dev@example.com"],
    )
    p.add_argument("action", choices=["add"], help="what to do (add)")
    p.add_argument("email", help="the new user's email address")
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


def _data_dir(args: argparse.Namespace, *, remembered: bool = False) -> Path:
    """``--data``, else ``$RIG_LOCAL_DATA``, else (``remembered``: stop, status, user add)
    the data directory that ``rig local start`` or ``serve`` last used, else the default."""
    chosen = args.data
    if chosen is None and remembered and not environment().get(LOCAL_DATA_ENV):
        chosen = _last_started()
    return (chosen or local_data_dir()).expanduser().resolve()


def _remember(data_dir: Path) -> None:
    path = ensure_config_dir() / LAST_STARTED_FILE
    write_private(path, json.dumps({"data_dir": str(data_dir)}) + "\n")


def _last_started() -> Path | None:
    try:
        recorded = read_json(config_dir() / LAST_STARTED_FILE) or {}
    except RigError:  # damaged: the default is as good a guess
        return None
    data_dir = recorded.get("data_dir")
    return Path(data_dir) if isinstance(data_dir, str) and data_dir else None


def start(ctx: Context, args: argparse.Namespace) -> Result:
    data_dir = _data_dir(args)
    info = running_server(data_dir)
    already = info is not None
    if info is None:
        proc = _spawn(data_dir, args, foreground=False)
        info = _wait_until_ready(data_dir, proc)
    _remember(data_dir)
    login = _login_local(ctx, info["url"], data_dir)
    data = {
        "url": info["url"],
        "pid": info["pid"],
        "data_dir": str(data_dir),
        "context": LOCAL_CONTEXT,
    }
    verb = "already running" if already else "started"
    data["limits"] = info.get("limits")
    message = (
        f"Max platform {verb} at {info['url']} (pid {info['pid']}, data {data_dir})\n"
        f"{_limits_line(info)}\n"
        f"Logged in as {login.get('user', '?')}; context '{LOCAL_CONTEXT}' is now current.\n"
        "Next: rig create network my-project"
    )
    return Result(data=data, message=message, show_data=False)


def serve(ctx: Context, args: argparse.Namespace) -> Result:
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
        _remember(data_dir)
        _login_local(ctx, info["url"], data_dir)
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
    data = {
        "running": True,
        "url": info["url"],
        "pid": info["pid"],
        "data_dir": str(data_dir),
        "started_at": info.get("started_at"),
        "limits": info.get("limits"),
    }
    view = {**data, "limits": _limits_line(info).removeprefix("limits: ")}
    fields = ["running", "url", "pid", "data_dir", "started_at", "limits"]
    return Result(data=data, view=view, fields=fields)


def _limits_line(info: dict[str, Any]) -> str:
    """``limits: cgroup v1 — per app by default: memory 512 MiB, ...``, as the platform
    wrote it in its ``server.json`` (one that predates limits says nothing of them)."""
    limits = info.get("limits")
    summary = limits.get("summary") if isinstance(limits, dict) else None
    return f"limits: {summary or 'unknown (the platform does not say)'}"


def add_user(ctx: Context, args: argparse.Namespace) -> Result:
    from maxlocal import admin

    data_dir = _data_dir(args, remembered=True)
    if not (data_dir / "bootstrap.json").exists():
        raise UsageError(
            f"no local platform has been set up in {data_dir}", hint="run `rig local start` first"
        )
    try:
        created = admin.add_user(data_dir, args.email)
    except ValueError as exc:
        raise UsageError(str(exc), hint="give a valid, unused email address") from exc
    message = (
        f"Added {created['email']}. API token (shown once):\n{created['token']}\n"
        f"Log in with: rig login --api <url> --token <token>"
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
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - handed to the child
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


def _login_local(ctx: Context, url: str, data_dir: Path) -> dict[str, Any]:
    from maxlocal import admin
    from rig.api.auth import login

    creds = admin.bootstrap_credentials(data_dir)
    return login(url, context_name=LOCAL_CONTEXT, email=creds["email"], password=creds["password"])


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
