"""Issue 19, item 13: ``rig deploy`` with no app named says so before it reads the directory
(it walked a whole /tmp first, and an unreadable tree failed on that instead)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.cli import Rig, single_error_line


def test_no_app_is_said_before_the_tree_is_walked(rig: Rig, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text("print('hi')\n")
    # Walking this tree fails: a symlink out of it is refused. Asking first never gets there.
    os.symlink("/etc", source / "outside")
    run = rig("deploy", str(source), cwd=tmp_path)
    line = single_error_line(run)
    assert run.code == 2 and "say which app to deploy" in line, str(run)
    assert "symlink" not in run.err

    # With an app named, the same tree is walked (and refused for its symlink).
    run = rig("deploy", str(source), "--app", "api", cwd=tmp_path)
    assert "symlinks pointing outside the app directory" in single_error_line(run), str(run)
