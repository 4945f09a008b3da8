"""Running rig's ``main()`` in this process, for tests that run it hundreds of times."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from unittest import mock

from tests.support.cli import Run, base_env


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    with mock.patch.dict(os.environ, env, clear=True):
        yield


def run_main(
    argv: Sequence[str], config_dir: Path, env: dict[str, str] | None = None, input: str = ""
) -> Run:
    """``rig *argv`` through ``rig.__main__.main``, ``input`` on stdin, output captured."""
    from rig.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    full_env = base_env(config_dir)
    full_env.update(env or {})
    with (
        _environment(full_env),
        mock.patch.object(sys, "stdin", io.StringIO(input)),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return Run(list(argv), int(code), out.getvalue(), err.getvalue())
