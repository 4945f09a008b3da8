from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from rig.bundle import BundleError, git_info, plan_bundle


def write(root: Path, rel: str, text: str = "x") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def paths(root: Path) -> list[str]:
    return [f.path for f in plan_bundle(root).files]


def test_root_and_nested_gitignore_with_negation_and_rigignore(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "# build output\n*.log\n!keep.log\nbuild/\n")
    write(tmp_path, ".rigignore", "\nsecrets.txt\n")
    write(tmp_path, "app.py")
    write(tmp_path, "debug.log")
    write(tmp_path, "keep.log")
    write(tmp_path, "secrets.txt")
    write(tmp_path, "build/out.bin")
    write(tmp_path, "sub/.gitignore", "/local.txt\n!debug2.log\n")
    write(tmp_path, "sub/local.txt")
    write(tmp_path, "sub/debug2.log")
    write(tmp_path, "sub/deeper/local.txt")
    write(tmp_path, ".git/config")
    write(tmp_path, "vendor/.git", "gitdir: elsewhere")

    plan = plan_bundle(tmp_path)

    assert [f.path for f in plan.files] == [
        ".gitignore",
        ".rigignore",
        "app.py",
        "keep.log",
        "sub/.gitignore",
        "sub/debug2.log",
        "sub/deeper/local.txt",
    ]
    rules = {e.path: e.rule for e in plan.excluded}
    assert rules == {
        "debug.log": ".gitignore:2:*.log",
        "build/": ".gitignore:4:build/",
        "secrets.txt": ".rigignore:2:secrets.txt",
        "sub/local.txt": "sub/.gitignore:1:/local.txt",
    }


def test_rigignore_overrides_gitignore_and_excluded_dir_cannot_be_reentered(
    tmp_path: Path,
) -> None:
    write(tmp_path, ".gitignore", "dist/\n*.env\n!dist/keep\n")
    write(tmp_path, ".rigignore", "!prod.env\n")
    write(tmp_path, "dist/keep")
    write(tmp_path, "prod.env")
    write(tmp_path, "dev.env")
    assert paths(tmp_path) == [".gitignore", ".rigignore", "prod.env"]


def test_sizes_total_and_largest(tmp_path: Path) -> None:
    write(tmp_path, "small", "a")
    write(tmp_path, "big", "b" * 300)
    write(tmp_path, "mid", "c" * 20)
    plan = plan_bundle(tmp_path)
    assert plan.total_bytes == 321
    assert not plan.is_large
    assert [(f.path, f.size) for f in plan.largest(2)] == [("big", 300), ("mid", 20)]


def test_symlinks_inside_are_kept_and_absolute_ones_made_relative(tmp_path: Path) -> None:
    write(tmp_path, "data/real.txt")
    os.symlink("data/real.txt", tmp_path / "rel")
    os.symlink(tmp_path / "data", tmp_path / "sub_abs")
    os.symlink("data", tmp_path / "dirlink")
    plan = plan_bundle(tmp_path)
    links = {f.path: f.link_target for f in plan.files if f.link_target}
    assert links == {"rel": "data/real.txt", "sub_abs": "data", "dirlink": "data"}
    assert "dirlink/real.txt" not in [f.path for f in plan.files]


def test_symlink_outside_is_refused_unless_ignored(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write(root, "app.py")
    os.symlink("/etc/passwd", root / "passwd")
    os.symlink("../", root / "up")
    with pytest.raises(BundleError) as caught:
        plan_bundle(root)
    assert "passwd -> /etc/passwd" in caught.value.message
    assert "up -> ../" in caught.value.message

    write(root, ".rigignore", "passwd\nup\n")
    assert paths(root) == [".rigignore", "app.py"]


def test_special_files_are_left_out(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    plan = plan_bundle(tmp_path)
    assert plan.files == []
    assert plan.excluded[0].path == "pipe"


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleError):
        plan_bundle(tmp_path / "missing")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_git_info(tmp_path: Path) -> None:
    assert git_info(tmp_path) is None
    git(tmp_path, "init", "-q", "-b", "trunk")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "T")
    assert git_info(tmp_path) is None
    write(tmp_path, "app/a.py")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "First version\n\nbody")
    info = git_info(tmp_path / "app")
    assert info is not None
    assert info["branch"] == "trunk"
    assert info["subject"] == "First version"
    assert info["dirty"] is False
    assert len(str(info["commit"])) == 40
    write(tmp_path, "app/a.py", "changed")
    assert git_info(tmp_path / "app") == {**info, "dirty": True}
    git(tmp_path, "checkout", "-q", "--detach")
    assert git_info(tmp_path)["branch"] is None  # type: ignore[index]


def test_git_info_without_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert git_info(tmp_path) is None
