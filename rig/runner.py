"""Running a command, the one way for one-shot use (``rig/__main__.py``) and the shell
(``rig/repl``): handler → render → error → exit code.

A handler returns a :class:`rig.output.Result` or raises a :class:`rig.errors.RigError`; either
way it is rendered in the command's output format on the command's own streams, and the exit
code comes from the result or the error's type. Anything else is a bug in rig: one line with
a hint (:func:`internal_error`), the traceback only with ``RIG_DEBUG=1`` in one-shot use.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rig.errors import ExitCode, RigError

if TYPE_CHECKING:
    from rig.context import Context

BUG_HINT = "this is a bug in rig; rerun with RIG_DEBUG=1 for a traceback and report it"


def internal_error(exc: BaseException) -> RigError:
    """A bug in rig as the one-line error rig reports."""
    return RigError(f"internal error: {type(exc).__name__}: {exc}", hint=BUG_HINT, code="internal")


def execute(
    ctx: Context,
    args: argparse.Namespace,
    *,
    passthrough: tuple[type[BaseException], ...] = (),
    debug: bool = False,
) -> int:
    """Run ``args.handler`` and render what it returns or raises; its exit code.

    ``KeyboardInterrupt``, ``BrokenPipeError`` and the ``passthrough`` exceptions are the
    caller's to handle; with ``debug`` a bug is raised too, for its traceback.
    """
    from rig.output import render, render_error

    callers: tuple[type[BaseException], ...] = (BrokenPipeError, *passthrough)
    try:
        result = args.handler(ctx, args)
        render(result, ctx.output, ctx.stdout)
        return int(result.exit_code)
    except RigError as error:
        render_error(error, ctx.output, ctx.stderr)
        return error.exit_code
    except callers:
        raise
    except Exception as exc:
        if debug:
            raise
        render_error(internal_error(exc), ctx.output, ctx.stderr)
        return ExitCode.FAILURE
