"""Python environments carried out for real, outside a platform: with the interpreter's own
venv and pip on a platform without uv (a tiny package from the index; the cached environment
reused the second time), and the bare one given to a release an older platform built."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from maxlocal.builders.run import ensure_python
from maxlocal.builders.toolbox import Toolbox
from maxlocal.runtime.proc import child_env
from tests.builds.conftest import build


@pytest.mark.network
def test_pip_builds_the_environment_when_there_is_no_uv(tmp_path: Path, build_cache: Path) -> None:
    tools = Toolbox(build_cache / "no-uv", with_uv=False)
    release = tmp_path / "release"
    release.mkdir()
    (release / "requirements.txt").write_text("six==1.16.0\n")
    (release / "main.py").write_text("import six\nprint(six.__version__)\n")
    notes = build(release, tools)
    assert notes[0].startswith("plan: python ") and notes[0].endswith(
        "web: python3 main.py (inferred: main.py)"
    )
    assert any("-m venv" in n for n in notes) and any(
        "-m pip install -r requirements.txt" in n for n in notes
    )
    env = child_env({}, release)
    out = subprocess.run(
        ["python3", "main.py"], cwd=release, env=env, capture_output=True, text=True
    )
    assert out.stdout == "1.16.0\n", out.stderr

    again = tmp_path / "again"
    again.mkdir()
    for name in ("requirements.txt", "main.py"):
        (again / name).write_text((release / name).read_text())
    assert any("cached, reused" in n for n in build(again, tools))


def test_a_release_built_before_every_release_had_a_python_gets_one(
    tmp_path: Path, build_cache: Path
) -> None:
    """An older platform's release (no .venv) resumed by this one: ``python`` still runs."""
    release = tmp_path / "old-release"
    release.mkdir()
    (release / "Procfile").write_text("web: python app.py\n")
    notes: list[str] = []
    ensure_python(release, Toolbox(build_cache), notes.append)
    assert (release / ".venv").is_symlink()
    run = subprocess.run(
        ["python", "-c", "import sys; print(sys.prefix)"],
        env=child_env({}, release),
        capture_output=True,
        text=True,
    )
    assert run.stdout.strip() == str(release / ".venv"), run.stderr
    ensure_python(release, Toolbox(build_cache), notes.append)  # once is enough
    assert not any("replaced" in note for note in notes)
