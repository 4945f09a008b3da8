"""``rig`` on a terminal, ``rig repl [options]``, ``rig --record FILE``: open the shell; with
stdin not a terminal (``echo ... | rig``, ``rig < file``), run its lines as a script."""

from __future__ import annotations

import sys
from pathlib import Path

from rig.cli import RigArgumentParser, add_global_options
from rig.errors import ExitCode, RigError
from rig.output import render_error
from rig.repl.state import history_file


def option_parser() -> RigArgumentParser:
    parser = RigArgumentParser(
        prog="rig repl",
        description="The rig shell: every rig command, with a selected network and app, "
        "completion of names from the platform, background jobs (a trailing &) and history.",
    )
    add_global_options(parser, suppress=False)
    parser.add_argument(
        "--record", metavar="FILE", help="record the session as a transcript in FILE"
    )
    return parser


def main(argv: list[str]) -> int:
    try:
        args = option_parser().parse_args(argv)
    except RigError as error:
        render_error(error, "table", sys.stderr)
        return error.exit_code
    from rig.repl.shell import INTRO, RigShell, ShellOptions, run_script
    from rig.repl.transcript import Recorder

    options = ShellOptions(
        args.output, args.context, args.api, args.no_color, args.verbose, args.record
    )
    recorder = Recorder(Path(args.record)) if args.record else None
    try:
        if not sys.stdin.isatty():  # `rig < file`, `echo ... | rig`: a script
            script = RigShell(
                options, history_file=str(history_file()), recorder=recorder, background=False
            )
            return run_script(script, sys.stdin)
        shell = RigShell(options, history_file=str(history_file()), recorder=recorder)
        shell.cmdloop(INTRO if sys.stdout.isatty() else "")
        return ExitCode.OK
    finally:
        if recorder is not None:
            recorder.close()
