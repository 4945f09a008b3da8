"""The app's environment on this machine: ``env pull`` (a .env file) and ``run`` (a command).

Vars travel; secrets only into ``run --with-secrets``'s command, after a confirmation, by the
platform's audited reveal (docs/api.md): never into a file, the output or rig's own argv.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from rig import dotenv
from rig.cli import CommandTree, add_scope_options, add_yes_option
from rig.errors import ExitCode, RigError, UsageError
from rig.output import Result
from rig.output.units import counted
from rig.prompt import confirm
from rig.targets import Scope, resolve_scope

if TYPE_CHECKING:
    from rig.context import Context

STDOUT = "-"


def register(tree: CommandTree) -> None:
    tree.group("env", "an app's vars on this machine: pull them to a .env file")
    parser = tree.add(
        "env pull",
        pull,
        "write the vars of an app (or network) to a .env file; secrets are never included",
        examples=[
            "rig env pull --app api            # writes .env",
            "rig env pull --app api .env.local",
            "rig env pull --network shop -     # to stdout",
        ],
    )
    parser.add_argument(
        "file", nargs="?", default=".env", metavar="FILE", help="where to write (default: .env)"
    )
    add_scope_options(parser, "vars")

    parser = tree.add(
        "run",
        run,
        "run a local command with an app's vars in its environment",
        examples=[
            "rig run --app api -- python manage.py migrate",
            "rig run -- npm test   # in a directory with rig.toml",
        ],
        description="Run a command on this machine with the app's vars (network-level ones "
        "included) added to its environment, and exit with its exit code (127 when it is not "
        "found, 126 when it cannot be run, as shells do). Secrets only with "
        "--with-secrets, after you confirm: the platform records each reveal in the audit.",
    )
    add_scope_options(parser, "vars")
    parser.add_argument(
        "--with-secrets",
        action="store_true",
        help="add the secrets' values too (asks first; the reveal is audited)",
    )
    add_yes_option(parser)
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command"
    )


def _vars(ctx: Context, scope: Scope) -> tuple[dict[str, str], list[str]]:
    """The effective vars of ``scope`` and the keys of its secrets (left out)."""
    api = ctx.api()
    rows = api.env(scope, "vars")
    secrets = api.env(scope, "secrets")
    return {str(r["key"]): str(r.get("value") or "") for r in rows}, [
        str(s["key"]) for s in secrets
    ]


def pull(ctx: Context, args: argparse.Namespace) -> Result:
    scope = resolve_scope(ctx, args)
    values, secrets = _vars(ctx, scope)
    header = f"# The vars of {scope.label}, pulled by rig.\n"
    if secrets:
        header += f"# Secrets are not included: {', '.join(secrets)}\n"
    text = header + dotenv.dump(values)
    data = {**scope.to_json(), "file": args.file, "keys": list(values), "secrets_left_out": secrets}
    if args.file == STDOUT:
        return Result(data=data, message=text.rstrip("\n"), show_data=False)
    try:
        Path(args.file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RigError(f"cannot write {args.file}: {exc.strerror}") from None
    left_out = f"; {counted(len(secrets), 'secret')} left out" if secrets else ""
    return Result(
        data=data,
        message=f"Wrote {counted(len(values), 'var')} of {scope.label} to {args.file}{left_out}",
        show_data=False,
    )


def run(ctx: Context, args: argparse.Namespace) -> Result:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError("no command to run", hint="rig run --app APP -- CMD [ARGS...]")
    scope = resolve_scope(ctx, args)
    values, secrets = _vars(ctx, scope)
    if args.with_secrets and secrets:
        keys = ", ".join(secrets)
        confirm(ctx, f"pass the secrets of {scope.label} ({keys}) to {command[0]}", yes=args.yes)
        values.update(ctx.api().reveal_secrets(scope, secrets))
    env = {**ctx.env, **values}
    ctx.stdout.flush()
    try:
        proc = subprocess.Popen(command, env=env)
    except FileNotFoundError:
        error = RigError(
            f"command not found: {command[0]}", hint="check its name and PATH", code="not_found"
        )
        error.exit_code = ExitCode.COMMAND_NOT_FOUND  # as shells exit, for scripts that check
        raise error from None
    except PermissionError:
        error = RigError(
            f"cannot run {command[0]}: permission denied",
            hint="is it executable (chmod +x) and not a directory?",
            code="not_executable",
        )
        error.exit_code = ExitCode.NOT_EXECUTABLE
        raise error from None
    code = _wait(proc)
    return Result(data={**scope.to_json(), "exit_code": code}, show_data=False, exit_code=code)


def _wait(proc: subprocess.Popen[bytes]) -> int:
    """The command's exit code; Ctrl+C reaches it too, and rig waits for it to finish."""
    interrupted = False
    while True:
        try:
            code = proc.wait()
            break
        except KeyboardInterrupt:
            interrupted = True
    if code < 0:
        return ExitCode.INTERRUPTED if interrupted else 128 - code
    return code
