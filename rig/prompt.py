"""Questions to the person at the terminal: confirmations, plain and hidden input.

Every function here is called only when ``ctx.interactive``; otherwise the
caller asks for a flag instead (``--yes``, ``--password-stdin``, ...). Prompts go
to stderr so that stdout stays clean for data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO, cast

from rig.errors import Interrupted, RigError, UsageError

if TYPE_CHECKING:
    from rig.context import Context


def confirm(ctx: Context, action: str, *, yes: bool) -> None:
    """Return when the user agrees to ``action`` (or passed ``--yes``); raise otherwise.

    ``action`` is a phrase like ``"delete network shop"``.
    """
    if yes:
        return
    if not ctx.interactive:
        raise UsageError(f"will not {action} without confirmation", hint="pass --yes to confirm")
    answer = ask(ctx, f"{action[:1].upper()}{action[1:]}? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise RigError("cancelled; nothing was changed", code="cancelled")


def ask(ctx: Context, prompt: str) -> str:
    ctx.stderr.write(prompt)
    ctx.stderr.flush()
    try:
        line = ctx.stdin.readline()
    except KeyboardInterrupt:
        raise Interrupted("interrupted") from None
    if not line:
        raise Interrupted("no answer (end of input)")
    return line.rstrip("\r\n")


def ask_hidden(ctx: Context, prompt: str, *, confirm_prompt: str | None = None) -> str:
    """Read a value without echo; with ``confirm_prompt``, ask twice and insist they match."""
    import getpass

    try:
        value = getpass.getpass(prompt, stream=cast(TextIO, ctx.stderr))
        if (
            confirm_prompt is not None
            and getpass.getpass(confirm_prompt, stream=cast(TextIO, ctx.stderr)) != value
        ):
            raise UsageError("the two entries differ; nothing was changed", hint="try again")
    except (KeyboardInterrupt, EOFError):
        raise Interrupted("interrupted") from None
    return value


def warn_secret_in_argv(ctx: Context, what: str, instead: str) -> None:
    """Say, in one line on a terminal, that ``what`` given as an argument is kept in the shell's
    history and shown by ``ps`` to every user of the machine, and the stdin form ``instead``.
    Not in scripts (stderr not a terminal: nobody to tell) nor in the rig shell (it masks
    secrets in its history, and its arguments never reach a process's argv)."""
    if ctx.in_shell or not ctx.stderr.isatty():
        return
    ctx.stderr.write(
        f"rig: warning: {what} given as an argument stays in your shell history and shows in "
        f"`ps` (hint: {instead})\n"
    )
    ctx.stderr.flush()
