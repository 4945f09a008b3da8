"""The app's environment on this machine: ``env pull`` (a .env file) and ``run`` (a command).

Vars travel; secrets only into ``run --with-secrets``'s command, after a confirmation, by the
platform's audited reveal (docs/api.md): never into a file, the output or rig's own argv.
"""

from __future__ import annotations

import argparse
import subprocess
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

# The variables that decide which programs and libraries this machine runs: an app var of
# one of these names (a PATH to the app's own `python`, a library preloaded into every
# process) would run the app's choice of code as the user, so `run` refuses it unless named
# with --allow-var. The one list; help and docs/security.md are made from it.
MACHINE_VARS = frozenset(
    {
        "PATH", "HOME", "SHELL", "IFS", "ENV", "BASH_ENV", "CDPATH", "PS4", "PROMPT_COMMAND",
        "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONINSPECT",
        "NODE_OPTIONS", "NODE_PATH", "PERL5LIB", "PERL5OPT", "PERLLIB", "RUBYLIB", "RUBYOPT",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH",
        "GIT_SSH_COMMAND", "GIT_EXEC_PATH", "GCONV_PATH",
    }
)  # fmt: skip
MACHINE_PREFIXES = ("LD_", "DYLD_", "BASH_FUNC_")


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
            "rig env pull --app api --force    # replace an existing .env",
        ],
        description="Write the vars of an app (or network) to a .env file, each value in "
        "single quotes, so that `set -a; . ./.env` in a shell gives back every value exactly and "
        "runs nothing ($, backticks and newlines are literal). Secrets are never included. An "
        "existing file is left alone unless --force: it may hold values only for this machine.",
    )
    parser.add_argument(
        "file", nargs="?", default=".env", metavar="FILE", help="where to write (default: .env)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace FILE when it exists (its values are lost)"
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
        "--with-secrets, after you confirm: the platform records each reveal in the audit. "
        "Vars that decide which programs and libraries this machine runs are refused unless "
        "each is named with --allow-var: "
        + ", ".join(sorted(MACHINE_VARS) + [p + "*" for p in MACHINE_PREFIXES])
        + ".",
    )
    add_scope_options(parser, "vars")
    parser.add_argument(
        "--with-secrets",
        action="store_true",
        help="add the secrets' values too (asks first; the reveal is audited)",
    )
    parser.add_argument(
        "--allow-var",
        action="append",
        default=[],
        metavar="KEY",
        help="let the app's KEY replace this machine's (PATH, LD_PRELOAD...); repeat for each",
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
        with open(args.file, "w" if args.force else "x", encoding="utf-8", newline="") as out:
            out.write(text)
    except FileExistsError:
        raise UsageError(
            f"{args.file} exists; nothing was written",
            hint="pass --force to replace it, or another FILE, or - for stdout",
        ) from None
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
    passed = [*values, *secrets] if args.with_secrets else list(values)
    check_machine_vars(passed, set(args.allow_var), scope.label)  # before any secret is revealed
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


def check_machine_vars(keys: list[str], allowed: set[str], label: str) -> None:
    """Refuse the keys of :data:`MACHINE_VARS` the user did not name with --allow-var."""
    risky = sorted(
        key
        for key in keys
        if (key in MACHINE_VARS or key.startswith(MACHINE_PREFIXES)) and key not in allowed
    )
    if risky:
        allow = " ".join(f"--allow-var {key}" for key in risky)
        raise UsageError(
            f"the vars of {label} would replace this machine's {', '.join(risky)}; nothing was run",
            hint=f"pass {allow} if you trust them here, or unset them on the app",
        )


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
