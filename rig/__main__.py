"""Entry point: parse argv, run one command, render its result, exit with its code."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

from rig.errors import ExitCode, RigError


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list == ["--version"]:
        from rig import __version__

        print(f"rig {__version__}")
        return ExitCode.OK
    if _wants_shell(args_list):
        from rig.repl.main import main as shell_main

        return shell_main(args_list[1:] if args_list[:1] == ["repl"] else args_list)
    from rig import interrupts

    interrupts.install()
    try:
        code = run(args_list)
        if code != ExitCode.INTERRUPTED:
            interrupts.check()  # one that Python reported and dropped on the way
            _update_check(args_list)
        return code
    except KeyboardInterrupt:  # arrived while an error was being reported or cleaned up
        return _interrupted()


def _interrupted() -> int:
    """Say so once and ignore further Ctrl+C while rig winds down (exit 130)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stderr.write("\nrig: interrupted\n")
    return ExitCode.INTERRUPTED


def _update_check(argv: list[str]) -> None:
    """After a one-shot command, on a terminal only (scripts, pipes and ``-o json`` never see a
    notice nor start a refresh, and import nothing for it): rig.update."""
    if sys.stderr.isatty() and _output_format(argv) != "json":
        from rig import update
        from rig.config import environment

        update.after_command(environment(), sys.stderr)


def _wants_shell(argv: list[str]) -> bool:
    """No arguments on a terminal, ``repl``, or ``--record FILE``: the shell (rig.repl). No
    arguments with stdin not a terminal (``echo "list apps" | rig``): the shell runs its lines
    as a script. Only ``rig | less`` on a terminal prints the help."""
    if not argv:
        return not sys.stdin.isatty() or sys.stdout.isatty()
    return argv[0] == "repl" or argv[0] == "--record" or argv[0].startswith("--record=")


def run(argv: list[str]) -> int:
    from rig.cli import build_parser, resolved_argv
    from rig.output import render_error
    from rig.runner import execute, internal_error

    fmt = _output_format(argv)
    try:
        parser = build_parser(argv)
        if not argv:
            parser.print_help()
            return ExitCode.OK
        argv = resolved_argv(parser, argv)
        args = parser.parse_args(argv)
        if getattr(args, "handler", None) is None:
            parser.parse_args([*argv, "--help"])
        from rig.context import Context

        ctx = Context.from_args(args)
        fmt = ctx.output
        if ctx.verbose:
            from rig.output.logs import configure_verbose

            configure_verbose(ctx.verbose)
        try:
            return execute(ctx, args, debug=bool(ctx.env.get("RIG_DEBUG")))
        finally:
            ctx.close()
    except RigError as error:
        render_error(error, fmt, sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.OK
    except Exception as exc:  # a bug: one line, the traceback only on request
        from rig.config import environment

        if environment().get("RIG_DEBUG"):
            raise
        render_error(internal_error(exc), fmt, sys.stderr)
        return ExitCode.FAILURE


def _output_format(argv: list[str]) -> str:
    """The -o value, found before parsing so that parse errors honour it too."""
    for i, arg in enumerate(argv):
        if arg in ("-o", "--output") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--output="):
            return arg.split("=", 1)[1]
        if arg.startswith("-o") and len(arg) > 2:
            return arg[2:]
    return "table"


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def entry() -> None:
    """The ``rig`` console script and ``python -m rig``: exit with main()'s code. After a
    Ctrl+C, rig leaves at once once it has said so, so that nothing in the interpreter's
    shutdown (thread joins, an event loop restoring Python's SIGINT handler) can still turn
    exit 130 into death by SIGINT, which a CI run saw once."""
    code = main()
    if code == ExitCode.INTERRUPTED:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
