"""The maxlocal command line: `serve` and `add-user`."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from maxlocal.layout import DEFAULT_KEEP_ENVS
from maxlocal.runtime.driver import (
    DEFAULT_RUNTIME,
    RuntimeUnavailable,
    UnknownRuntime,
    check,
    names,
)

EXIT_USAGE = 2
EXIT_ALREADY_RUNNING = 5
EXIT_NO_SANDBOX = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m maxlocal", description="The local Max platform"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the platform server")
    serve.add_argument("--data", type=Path, required=True, help="data directory")
    serve.add_argument("--host", default="127.0.0.1", help="a loopback address")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--access-ttl", type=int, default=None, metavar="SECONDS")
    serve.add_argument("--refresh-ttl", type=int, default=None, metavar="SECONDS")
    serve.add_argument("--max-upload-bytes", type=int, default=None, metavar="BYTES")
    serve.add_argument("--log-limit", type=int, default=None, metavar="LINES", help="per app")
    serve.add_argument("--health-timeout", type=int, default=None, metavar="SECONDS")
    serve.add_argument(
        "--log-bytes", type=int, default=None, metavar="BYTES", help="log text kept per app"
    )
    serve.add_argument(
        "--keep-releases",
        type=int,
        default=None,
        metavar="N",
        help="built releases kept per app (default 10; the active one always)",
    )
    serve.add_argument(
        "--limits",
        choices=("auto", "off"),
        default="auto",
        help="per-app cgroup limits: auto (when the machine allows) or off",
    )
    serve.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="where builds keep dependency environments and downloads (default: DATA/cache)",
    )
    serve.add_argument(
        "--keep-envs",
        type=int,
        default=None,
        metavar="N",
        help="dependency environments the cache keeps, least recently used pruned "
        f"(default: {DEFAULT_KEEP_ENVS})",
    )
    serve.add_argument(
        "--isolation",
        choices=("auto", "sandbox", "none"),
        default="auto",
        help="tenant processes' sandbox: auto (the best this machine allows), sandbox "
        "(refuse to start without one), none (one trust domain)",
    )
    serve.add_argument(
        "--router",
        choices=("auto", "in-process"),
        default="auto",
        help="what forwards visitors to apps: auto (HAProxy in its own process when "
        "installed, else in-process) or in-process",
    )
    serve.add_argument(
        "--runtime",
        default=DEFAULT_RUNTIME,
        metavar="NAME",
        help=f"what runs the apps (default: {DEFAULT_RUNTIME}; registered: {', '.join(names())})",
    )
    serve.add_argument(
        "--device-code-ttl", type=int, default=None, metavar="SECONDS", help="device login codes"
    )

    add_user = commands.add_parser("add-user", help="create a user and print an API token")
    add_user.add_argument("--data", type=Path, required=True, help="data directory")
    add_user.add_argument("email")
    return parser


def _serve(args: argparse.Namespace) -> int:
    from maxlocal import server
    from maxlocal.runtime.sandbox import IsolationUnavailable

    try:
        runtime = check(args.runtime)
    except UnknownRuntime as e:
        print(f"maxlocal: {e}", file=sys.stderr)
        return EXIT_USAGE
    options = server.ServeOptions(
        data_dir=args.data,
        host=args.host,
        port=args.port,
        cache_dir=args.cache,
        isolation=args.isolation,
        limits=args.limits == "auto",
        router=args.router,
        runtime=runtime,
    )
    for name in (
        "access_ttl",
        "refresh_ttl",
        "max_upload_bytes",
        "log_limit",
        "health_timeout",
        "keep_envs",
        "device_code_ttl",
        "log_bytes",
        "keep_releases",
    ):
        value = getattr(args, name)
        if value is not None:
            if value <= 0:
                print(f"maxlocal: --{name.replace('_', '-')} must be positive", file=sys.stderr)
                return EXIT_USAGE
            setattr(options, name, value)
    server.configure_logging()
    try:
        server.serve(options)
    except server.NotLoopback as e:
        print(f"maxlocal: {e}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeUnavailable as e:
        print(f"maxlocal: --runtime {runtime}: {e}; {e.hint}", file=sys.stderr)
        return EXIT_USAGE
    except IsolationUnavailable as e:
        print(f"maxlocal: --isolation sandbox: {e}", file=sys.stderr)
        return EXIT_NO_SANDBOX
    except server.AlreadyRunning as e:
        print(f"maxlocal: {e}", file=sys.stderr)
        return EXIT_ALREADY_RUNNING
    except OSError as e:
        if e.filename:
            print(f"maxlocal: cannot use {e.filename}: {e.strerror}", file=sys.stderr)
        else:
            print(
                f"maxlocal: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr
            )
        return 1
    except sqlite3.Error as e:
        print(f"maxlocal: cannot open the database in {args.data}: {e}", file=sys.stderr)
        return 1
    return 0


def _add_user(args: argparse.Namespace) -> int:
    from maxlocal import admin

    try:
        result = admin.add_user(args.data, args.email)
    except ValueError as e:
        print(f"maxlocal: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _add_user(args)


if __name__ == "__main__":
    sys.exit(main())
