"""What goes into an upload, where mutation testing (scripts/mutation-report) found the
tests silent: directory-only patterns and symlinks, an ignore file that is not UTF-8, the
exact error and hint a user reads, and the largest files shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rig.bundle import BundleError, plan_bundle


def write(root: Path, rel: str, data: bytes = b"x") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_a_directory_pattern_leaves_files_and_symlinks_of_that_name_alone(tmp_path: Path) -> None:
    """As git: ``build/`` names directories; a file called build, or a symlink to a directory,
    is not one."""
    write(tmp_path, "build")
    write(tmp_path, "out/real.txt")
    write(tmp_path, "dist/skip.txt")
    os.symlink("out", tmp_path / "linked")
    write(tmp_path, ".rigignore", b"build/\nlinked/\ndist/\n")
    plan = plan_bundle(tmp_path)
    assert [f.path for f in plan.files] == [".rigignore", "build", "linked", "out/real.txt"]
    assert [(e.path, e.rule) for e in plan.excluded] == [("dist/", ".rigignore:3:dist/")]
    assert plan.root == tmp_path


def test_an_ignore_file_that_is_not_utf8_still_applies(tmp_path: Path) -> None:
    write(tmp_path, ".rigignore", b"# caf\xe9 (latin-1)\nsecret.txt\n")
    write(tmp_path, "secret.txt")
    write(tmp_path, "app.py")
    assert [f.path for f in plan_bundle(tmp_path).files] == [".rigignore", "app.py"]


def test_the_errors_say_what_is_wrong_and_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(BundleError) as caught:
        plan_bundle(missing)
    assert (caught.value.message, caught.value.hint) == (
        f"{missing} is not a directory",
        "give the directory of the app to deploy",
    )
    root = tmp_path / "app"
    write(root, "app.py")
    os.symlink("/etc/passwd", root / "passwd")
    os.symlink("/etc/hosts", root / "hosts")
    with pytest.raises(BundleError) as caught:
        plan_bundle(root)
    assert (caught.value.message, caught.value.hint) == (
        "symlinks pointing outside the app directory: hosts -> /etc/hosts, passwd -> /etc/passwd",
        "replace them with copies, or list them in .rigignore",
    )


def test_special_files_are_left_out_with_the_reason(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (exclusion,) = plan_bundle(tmp_path).excluded
    assert (exclusion.path, exclusion.rule) == ("pipe", "not a regular file, directory or symlink")


def test_the_largest_files_are_the_ten_biggest_then_by_name(tmp_path: Path) -> None:
    for i in range(12):
        write(tmp_path, f"f{i:02}", b"x" * (i % 4))
    os.symlink("f00", tmp_path / "link")
    plan = plan_bundle(tmp_path)
    assert [f.path for f in plan.largest()] == [
        "f03", "f07", "f11", "f02", "f06", "f10", "f01", "f05", "f09", "f00",
    ]  # fmt: skip
    assert next(f for f in plan.files if f.path == "link").size == 0  # a link uploads no bytes
