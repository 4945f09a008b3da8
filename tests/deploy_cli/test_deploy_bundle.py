"""What a deploy uploads (dry run, no platform needed) and how much memory a big one takes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from tests.deploy_cli.conftest import fetch, write_app
from tests.support.cli import ROOT, Rig, base_env
from tests.support.platform import Platform

MiB = 1024 * 1024


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = write_app(tmp_path / "repo", "v1")
    (root / ".gitignore").write_text("__pycache__/\n*.pyc\n.env\n")
    (root / ".rigignore").write_text("tests/\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_app.py").write_text("")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (root / ".env").write_text("SECRET=1\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "Add the app")
    return root


def test_dry_run_honours_ignore_files_and_never_includes_git(checkout: Path, rig: Rig) -> None:
    data = rig.ok("deploy", str(checkout), "--dry-run", "-o", "json").json()
    assert [f["path"] for f in data["files"]] == [".gitignore", ".rigignore", "Procfile", "app.py"]
    excluded = {e["path"]: e["rule"] for e in data["excluded"]}
    assert excluded == {
        ".env": ".gitignore:3:.env",
        "__pycache__/": ".gitignore:1:__pycache__/",
        "tests/": ".rigignore:1:tests/",
    }
    assert data["uploaded"] is False
    text = rig.ok("deploy", str(checkout), "--dry-run").out
    assert text.startswith("Would upload 4 files") and "; 3 paths left out." in text
    (checkout / "tests").mkdir(exist_ok=True)
    lone = checkout / "tests" / "lone"
    lone.mkdir()
    (lone / "Procfile").write_text("web: true\n")
    one = rig.ok("deploy", str(lone), "--dry-run").out
    assert one.startswith("Would upload 1 file,") and "; 0 paths left out." in one
    assert ".rigignore:1:tests/" in text and ".git/" not in text and "HEAD" not in text


def test_a_checkout_records_its_commit(
    checkout: Path, deployer: Rig, deploy_platform: Platform
) -> None:
    deployer.ok("create", "network", "gitnet")
    commit = git(checkout, "rev-parse", "HEAD")
    deployer.ok("deploy", str(checkout), "--app", "site", "--network", "gitnet", "--create")
    (checkout / "app.py").write_text((checkout / "app.py").read_text() + "\n# changed\n")
    deployer.ok("deploy", str(checkout), "--app", "site", "-m", "hotfix")
    first, second = reversed(deployer.ok("list", "releases", "--app", "site", "-o", "json").json())
    assert first["message"] == "Add the app"
    assert first["git"] == {"commit": commit, "branch": "main", "dirty": False}
    assert second["message"] == "hotfix" and second["git"]["dirty"] is True
    table = deployer.ok("list", "releases", "--app", "site").out
    assert f"{commit[:7]} main (dirty)" in table and f"{commit[:7]} main " in table


PEAK_RSS = textwrap.dedent(
    """
    import json, resource, subprocess, sys
    done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    result = {"code": done.returncode, "out": done.stdout, "err": done.stderr, "peak": peak}
    print(json.dumps(result))
    """
)


@pytest.mark.slow
def test_a_100_mb_deploy_keeps_client_memory_flat(
    deployer: Rig, deploy_platform: Platform, tmp_path: Path
) -> None:
    deployer.ok("create", "network", "bignet")
    source = write_app(tmp_path / "big", "big")
    with open(source / "blob.bin", "wb") as f:
        for _ in range(100):
            f.write(os.urandom(MiB))  # incompressible: the archive is as big as the bundle
    env = base_env(deployer.config_dir)
    argv = [sys.executable, "-m", "rig", "deploy", str(source), "--app", "big"]
    argv += ["--network", "bignet", "--create", "-o", "json"]
    helper = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    result = json.loads(helper.stdout)
    assert result["code"] == 0, result["err"]
    data = json.loads(result["out"])
    assert data["status"] == "active" and data["size"] > 100 * MiB
    assert "blob.bin (100.0 MiB)" in result["err"]  # the large-bundle warning
    assert result["peak"] < 50 * MiB, f"peak RSS {result['peak'] / MiB:.1f} MiB"
    assert fetch(deploy_platform, "big.bignet.localhost").text == "hello from big\n"


def test_the_archive_is_a_gzip_tar_of_the_plan(checkout: Path, tmp_path: Path) -> None:
    from rig.bundle import plan_bundle
    from rig.transport.upload import build_archive

    archive = build_archive(plan_bundle(checkout), tmp_path / "a.tar.gz")
    with tarfile.open(archive.path) as tar:
        assert sorted(tar.getnames()) == [".gitignore", ".rigignore", "Procfile", "app.py"]


def test_ctrl_c_while_bundling_exits_130_and_leaves_no_archive(
    deployer: Rig, deploy_platform: Platform, tmp_path: Path
) -> None:
    deployer.ok("create", "network", "intr")
    source = write_app(tmp_path / "slow", "slow")
    with open(source / "blob.bin", "wb") as f:
        for _ in range(200):
            f.write(os.urandom(MiB))
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**base_env(deployer.config_dir), "TMPDIR": str(temp)}
    argv = [sys.executable, "-m", "rig", "deploy", str(source), "--app", "slow"]
    proc = subprocess.Popen(
        [*argv, "--network", "intr", "--create"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 20
    while not list(temp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(temp.iterdir()), "the archive was never started"
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert list(temp.iterdir()) == []
    assert deployer.ok("list", "releases", "--app", "slow", "-o", "json").json() == []
