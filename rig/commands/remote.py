"""Remote access: ``command``, ``shell``, ``list sessions`` and ``audit``.

``command`` and ``shell`` exit with the remote exit code (128+N for a process killed by signal
N; 124 for a ``command --timeout`` that expired, as timeout(1) does). When the connection to
the platform is lost mid-session they exit 6 (``unreachable``), with "connection to the
platform lost": the platform has ended the session by then.
"""

from __future__ import annotations

import argparse
import codecs
import re
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from rig.cli import CommandTree, add_scope_options, parse_since
from rig.errors import ExitCode, NotFoundError, RigError, UnreachableError, UsageError
from rig.output import Column, Result
from rig.output.units import human_seconds
from rig.targets import Scope, defaults, resolve_scope

if TYPE_CHECKING:
    from rig.context import Context
    from rig.transport.remote import Exit, OnOutput, Platform

LOST = "connection to the platform lost"
LOST_HINT = "the platform ended the session; run it again once the platform is back"
DEFAULT_TERM = "xterm-256color"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

SESSION_COLUMNS = [
    Column("id"),
    Column("network"),
    Column("app"),
    Column("kind"),
    Column("command"),
    Column("started_at", "STARTED"),
    Column("pid", "PID"),
]
AUDIT_COLUMNS = [
    Column("started_at", "STARTED"),
    Column("user_email", "WHO"),
    Column("network"),
    Column("app"),
    Column("kind"),
    Column("command"),
    Column("exit_code", "EXIT"),
    Column("duration_s", "TOOK", format=lambda s: "-" if s is None else human_seconds(float(s))),
    Column("client", "FROM"),
]


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "command",
        run_command,
        "run a command on the platform, in an app's (or a network's) environment",
        examples=[
            'rig command "python manage.py migrate" --app api',
            "rig command 'echo \"$GREETING\"' --app api -o json",
            'rig command "make report" --network shop --timeout 10m',
            "rig command --app api -- ls -la /tmp",
        ],
        description="Run CMD with /bin/sh -c where the app runs: its current release directory, "
        "its vars and secrets. Its stdout and stderr stream to yours; rig exits with its exit "
        "code (128+N if killed by signal N; 124 when --timeout stops it, as timeout(1)). "
        "Ctrl+C interrupts it.",
    )
    parser.add_argument(
        "cmd",
        nargs="+",
        metavar="CMD",
        help="the command line, one argument for /bin/sh -c; or, after --, a command and its "
        "arguments (`-- ls -la`), each kept as one word",
    )
    add_scope_options(parser, "environment")
    parser.add_argument(
        "--timeout", metavar="DUR", help="stop it after DUR (30s, 10m, 2h; default: no limit)"
    )

    parser = tree.add(
        "shell",
        open_shell,
        "open a shell on the platform, in an app's (or a network's) environment",
        examples=[
            "rig shell --app api",
            "rig shell --network shop",
            "printf 'make test\\n' | rig shell --app api",
        ],
        description="An interactive shell in a terminal on the platform, where the app runs. "
        "rig exits with the shell's exit code. With stdin not a terminal, the shell runs what "
        "is piped in and exits with the status of its last command.",
    )
    add_scope_options(parser, "environment")

    tree.add(
        "list sessions",
        list_sessions,
        "list your remote commands and shells running now",
        examples=["rig list sessions", "rig list sessions -o json"],
    )

    parser = tree.add(
        "audit",
        show_audit,
        "list the audit trail of remote commands and shells",
        examples=["rig audit --app api --since 1d", "rig audit --network shop -o json"],
    )
    add_scope_options(parser, "sessions")
    parser.add_argument(
        "--since", metavar="WHEN", help="only sessions since a duration ago (10m, 2h) or a time"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="every app's sessions, even where a rig.toml, RIG_APP or the shell names one",
    )


def parse_duration(text: str) -> float:
    """``30``, ``30s``, ``10m``, ``2h``, ``1d`` as seconds."""
    match = _DURATION.fullmatch(text.strip())
    if not match or float(match[1]) <= 0:
        raise UsageError(f"--timeout {text!r} is not a duration", hint="e.g. --timeout 30s, 10m")
    return float(match[1]) * _SECONDS[match[2]]


def command_line(words: list[str]) -> str:
    """The line /bin/sh -c runs: one argument as written (``"make report | tee r"``), several
    (``-- ls -la``) quoted word by word, as ``rig run -- CMD ARGS`` would run them."""
    if len(words) == 1:
        return words[0]
    import shlex

    return shlex.join(words)


def run_command(ctx: Context, args: argparse.Namespace) -> Result:
    from rig.transport.remote import exec_topic, run_streams

    scope = resolve_scope(ctx, args)
    params: dict[str, Any] = {"kind": "command", "cmd": command_line(args.cmd)}
    if args.timeout:
        params["timeout"] = parse_duration(args.timeout)
    captured: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}

    def capture(stream: str, data: bytes) -> None:
        captured[stream] += data

    on_output = capture if ctx.json else _writers(ctx)
    done = _session(
        ctx,
        scope,
        lambda: run_streams(
            _platform(ctx), exec_topic(scope.network, scope.app), params, on_output, _stdin(ctx)
        ),
    )
    code = done.code
    if done.reason == "timeout":
        ctx.stderr.write(f"rig: the command timed out after {params['timeout']:g} s\n")
        code = ExitCode.TIMED_OUT
    if not ctx.json:
        return Result(exit_code=code)
    return Result(
        data={
            "exit_code": code,
            "stdout": captured["stdout"].decode(errors="replace"),
            "stderr": captured["stderr"].decode(errors="replace"),
            "duration_s": done.duration_s,
        },
        exit_code=code,
    )


def open_shell(ctx: Context, args: argparse.Namespace) -> Result:
    from rig.transport.remote import exec_topic, run_streams, run_terminal
    from rig.transport.terminal import TerminalSignal

    scope = resolve_scope(ctx, args)
    topic, platform = exec_topic(scope.network, scope.app), _platform(ctx)
    if not _terminal(ctx):
        params = {"kind": "shell", "tty": False}
        done = _session(
            ctx, scope, lambda: run_streams(platform, topic, params, _writers(ctx), _stdin(ctx))
        )
        return Result(exit_code=done.code)
    term = ctx.env.get("TERM") or DEFAULT_TERM
    try:
        done = _session(
            ctx,
            scope,
            lambda: run_terminal(platform, topic, ctx.stdin.fileno(), ctx.stdout.fileno(), term),
        )
    except TerminalSignal as sig:
        error = RigError(f"stopped by {sig}")
        error.exit_code = 128 + sig.signum
        raise error from None
    return Result(exit_code=done.code)


def list_sessions(ctx: Context, args: argparse.Namespace) -> Result:
    rows = ctx.api().sessions()
    return Result(data=rows, columns=SESSION_COLUMNS, empty="(no live sessions)")


def show_audit(ctx: Context, args: argparse.Namespace) -> Result:
    network = app = None
    chosen = defaults(ctx)
    # the app a rig.toml (or RIG_APP, or the shell) names, like every other command
    if args.app or args.network or (not args.all and (chosen.app or chosen.network)):
        scope = resolve_scope(ctx, args)
        network, app = scope.network, scope.app
    since = parse_since(args.since) if args.since else None
    rows = ctx.api().audit(network, app, since)
    where = f" for {Scope(network, app).label}" if network else ""
    return Result(data=rows, columns=AUDIT_COLUMNS, empty=f"(no sessions recorded{where})")


def _platform(ctx: Context) -> Platform:
    return ctx.api().exec_platform()


def _session(ctx: Context, scope: Scope, run: Callable[[], Exit]) -> Exit:
    """``run()``; a lost session is the platform unreachable, a refused one because the app or
    network was not found is the API's not-found error (whose hint may say did-you-mean)."""
    from rig.transport.remote import SessionLost

    try:
        return run()
    except SessionLost:
        raise UnreachableError(LOST, hint=LOST_HINT) from None
    except NotFoundError as refused:
        try:
            ctx.api().details(scope)
        except NotFoundError as missing:
            if missing.hint:  # the platform's own account of what is missing
                raise missing from None
        except RigError:
            pass
        raise refused from None


def _terminal(ctx: Context) -> bool:
    return _has_fd(ctx.stdin) and _has_fd(ctx.stdout) and ctx.stdin.isatty() and ctx.stdout.isatty()


def _stdin(ctx: Context) -> int | None:
    """The fd whose contents to send: stdin, unless it is a terminal (or not a real file)."""
    if not _has_fd(ctx.stdin) or ctx.stdin.isatty():
        return None
    return ctx.stdin.fileno()


def _has_fd(stream: IO[str]) -> bool:
    try:
        stream.fileno()
    except (OSError, ValueError, AttributeError):
        return False
    return True


def _writers(ctx: Context) -> OnOutput:
    """Remote stdout to ``ctx.stdout`` and stderr to ``ctx.stderr``, as bytes when they can."""
    streams = {"stdout": _writer(ctx.stdout), "stderr": _writer(ctx.stderr)}

    def write(stream: str, data: bytes) -> None:
        streams.get(stream, streams["stdout"])(data)

    return write


def _writer(stream: IO[str]) -> Callable[[bytes], None]:
    binary = getattr(stream, "buffer", None)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(data: bytes) -> None:
        if binary is not None:
            stream.flush()
            binary.write(data)
            binary.flush()
        else:
            stream.write(decoder.decode(data))
            stream.flush()

    return write
