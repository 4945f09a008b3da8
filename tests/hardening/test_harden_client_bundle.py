"""Issue 15, finding 16: a deploy uploaded the project's ``.env`` files (local secrets) unless
an ignore file listed them. Now ``.env*`` stays out by default, at any depth, ``--dry-run``
says so, and only an explicit ``!`` rule in ``.rigignore`` brings one back (a ``.gitignore``
negation does not: a ``.gitignore`` is about git, not about what leaves the machine)."""

from __future__ import annotations

import tarfile
from pathlib import Path

from tests.support.cli import Rig
from tests.support.platform import Platform

SECRET = "STRIPE_KEY=sk_live_do_not_upload\n"


def project(root: Path, rigignore: str | None = None) -> Path:
    root.mkdir(parents=True)
    (root / "Procfile").write_text("worker: python -c 'import time; time.sleep(600)'\n")
    (root / "app.py").write_text("print('hi')\n")
    for name in (".env", ".env.local", ".env.example", "web/.env.production"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(SECRET)
    (root / ".gitignore").write_text("!.env.local\n")
    if rigignore is not None:
        (root / ".rigignore").write_text(rigignore)
    return root


def received(platform: Platform, network: str, app: str, number: int) -> set[str]:
    """The files of the archive the platform stored for the release."""
    artifact = platform.data_dir / "artifacts" / network / app / f"{number}.tar.gz"
    with tarfile.open(artifact) as tar:
        return {m.name.removeprefix("./") for m in tar.getmembers() if m.isfile()}


def test_env_files_stay_on_this_machine_unless_rigignore_brings_one_back(
    logged_in: Rig, shared_platform: Platform, tmp_path: Path
) -> None:
    logged_in.ok("create", "network", "shop")
    source = project(tmp_path / "app")

    dry = logged_in.ok("deploy", str(source), "--dry-run")
    assert ".env* files are left out" in dry.out, dry.out
    plan = logged_in.ok("deploy", str(source), "--dry-run", "-o", "json").json()
    assert {f["path"] for f in plan["files"]} == {".gitignore", "Procfile", "app.py"}
    assert {e["path"] for e in plan["excluded"]} >= {".env", ".env.local", "web/.env.production"}

    logged_in.ok("deploy", str(source), "--app", "api", "--network", "shop", "--create", "--detach")
    files = received(shared_platform, "shop", "api", 1)
    assert not [f for f in files if f.rsplit("/", 1)[-1].startswith(".env")], files
    assert "app.py" in files

    again = project(tmp_path / "again", rigignore="!.env.example\n")
    plan = logged_in.ok("deploy", str(again), "--dry-run", "-o", "json").json()
    assert ".env.example" in {f["path"] for f in plan["files"]}
    logged_in.ok("deploy", str(again), "--app", "api", "--network", "shop", "--detach")
    files = received(shared_platform, "shop", "api", 2)
    assert {f for f in files if ".env" in f} == {".env.example"}, files
