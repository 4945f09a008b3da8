"""``ensure_python`` (a release from before every release had a Python gets its bare
environment when it starts) is a build step like the others: ``uv venv`` runs in the
tenant's release and reads the tenant's own ``uv.toml``, so it is tenant input, not platform
work, and runs in the app's build sandbox (as its uid, with its own download cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from maxlocal.builders.run import StepFailed, ensure_python
from maxlocal.builders.toolbox import Toolbox
from maxlocal.runtime import sandbox
from maxlocal.runtime.sandbox import APP_UIDS, BuildBox

UID = APP_UIDS + 21


def old_release(base: Path, **files: str) -> Path:
    release = base / "old-release"
    release.mkdir()
    (release / "Procfile").write_text("web: python app.py\n")
    for name, text in files.items():
        (release / name).write_text(text)
    return release


def test_the_tenant_s_uv_config_reaches_the_step(tmp_path: Path) -> None:
    release = old_release(tmp_path, **{"uv.toml": 'required-version = ">=999"\n'})
    with pytest.raises(StepFailed, match="create environment"):
        ensure_python(release, Toolbox(tmp_path / "cache"), print)


def test_it_runs_in_the_app_s_build_sandbox(tmp_path: Path) -> None:
    platform_tools = Toolbox(tmp_path / "cache")
    tools = platform_tools.for_app("test", 21)  # as Runtime._tools gives a sandboxed app
    isolation = sandbox.choose(sandbox.SANDBOX, tools.sandbox_paths())
    release, home = old_release(tmp_path), tmp_path / "home"
    home.mkdir()
    tools.envs.mkdir(parents=True)
    for cache in tools.download_caches:
        cache.mkdir()
        isolation.give(cache, UID)
    for path in (release, home):
        isolation.give(path, UID)
    box = BuildBox(isolation, UID, release, home, tools.root)
    asked: list[BuildBox] = []

    def given() -> BuildBox:
        asked.append(box)
        return box

    ensure_python(release, tools, print, given)
    assert asked == [box]
    private, shared = tools.download_caches[0], platform_tools.download_caches[0]
    assert (release / ".venv").is_symlink() and (release / ".venv" / "pyvenv.cfg").is_file()
    # uv ran as the tenant: it cached what it learnt in the app's own area and wrote
    # nothing in the cache the platform's own builds share
    assert [p.stat().st_uid for p in private.rglob("*")] and all(
        p.stat().st_uid == UID for p in private.rglob("*")
    )
    assert not shared.exists() or not any(shared.iterdir())
    ensure_python(release, tools, print, given)
    assert asked == [box]  # nothing to build: no sandbox asked for
