"""Choose the files a deploy uploads, and read the git facts a release records.

``plan_bundle`` walks a source directory the way git would: ``.gitignore`` and
``.rigignore`` files (at the root and in any subdirectory) exclude paths with
gitignore semantics, deeper files overriding shallower ones and ``.rigignore``
overriding the ``.gitignore`` beside it; an excluded directory is not entered.
``.git`` is never included. ``.env*`` files (local settings and secrets) are left out
by default, at any depth, unless a ``.rigignore`` brings one back with a ``!`` rule (a
``.gitignore``'s ``!`` does not: it says what git tracks, not what leaves the machine).
Symlinks are kept as symlinks when they point inside the root and refused when they
point outside.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pathspec

from rig.config import environment
from rig.errors import RigError

IGNORE_FILES = (".gitignore", ".rigignore")
RIGIGNORE = ".rigignore"
ENV_PREFIX = ".env"  # .env, .env.local, .envrc...: local settings and secrets
DEFAULT_RULE = f"by default: {ENV_PREFIX}* (a !-rule in .rigignore uploads one)"
LARGE_BUNDLE_BYTES = 50 * 1024 * 1024


class BundleError(RigError):
    code = "invalid_bundle"


@dataclass(frozen=True)
class BundleFile:
    """One path to upload. ``path`` is relative to the root, with ``/`` separators."""

    path: str
    size: int
    link_target: str | None = None


@dataclass(frozen=True)
class Exclusion:
    """A path left out, and the rule that did it: ``file:line:pattern`` or a built-in reason."""

    path: str
    rule: str


@dataclass
class BundlePlan:
    root: Path
    files: list[BundleFile] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def is_large(self) -> bool:
        return self.total_bytes > LARGE_BUNDLE_BYTES

    @property
    def env_files_left_out(self) -> list[str]:
        """The paths the default exclusion of ``.env*`` kept back."""
        return [e.path for e in self.excluded if e.rule == DEFAULT_RULE]

    def largest(self, count: int = 10) -> list[BundleFile]:
        return sorted(self.files, key=lambda f: (-f.size, f.path))[:count]


@dataclass(frozen=True)
class _IgnoreFile:
    """The patterns of one ignore file, which apply below ``base`` (a relative dir, '' for root)."""

    base: str
    source: str
    spec: pathspec.GitIgnoreSpec
    line_numbers: tuple[int, ...]
    lines: tuple[str, ...]

    def match(self, rel_path: str, is_dir: bool) -> tuple[bool, str] | None:
        """(excluded?, rule) if some pattern here decides ``rel_path``, else None."""
        local = rel_path[len(self.base) + 1 :] if self.base else rel_path
        result = self.spec.check_file(local + "/" if is_dir else local)
        if result.include is None or result.index is None:
            return None
        rule = f"{self.source}:{self.line_numbers[result.index]}:{self.lines[result.index]}"
        return result.include, rule


def _load_ignore_file(path: Path, base: str) -> _IgnoreFile | None:
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None
    patterns: list[Any] = []
    numbers: list[int] = []
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern in pathspec.GitIgnoreSpec.from_lines([line]).patterns:
            if pattern.include is None:
                continue
            patterns.append(pattern)
            numbers.append(number)
            lines.append(line.strip())
    if not patterns:
        return None
    source = f"{base}/{path.name}" if base else path.name
    return _IgnoreFile(base, source, pathspec.GitIgnoreSpec(patterns), tuple(numbers), tuple(lines))


def _decide(rules: list[_IgnoreFile], rel_path: str, is_dir: bool) -> str | None:
    """The rule excluding ``rel_path``, or None when it is included. The deepest ignore file
    with a matching pattern decides, except that only a ``.rigignore`` brings back what the
    default exclusion of ``.env*`` keeps (a ``.gitignore``'s ``!`` is passed over for it)."""
    default = rel_path.rsplit("/", 1)[-1].startswith(ENV_PREFIX)  # .env*: a prefix, so cheap
    for ignore_file in reversed(rules):
        decision = ignore_file.match(rel_path, is_dir)
        if decision is None:
            continue
        excluded, rule = decision
        if excluded:
            return rule
        if not default or ignore_file.source.rsplit("/", 1)[-1] == RIGIGNORE:
            return None
    return DEFAULT_RULE if default else None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def plan_bundle(root: str | Path) -> BundlePlan:
    """Walk ``root`` and decide what to upload. Raises BundleError on a symlink out of the root."""
    root = Path(root)
    if not root.is_dir():
        raise BundleError(f"{root} is not a directory", "give the directory of the app to deploy")
    real_root = os.path.realpath(root)
    plan = BundlePlan(root=root)
    outside: list[str] = []
    for rel_path, entry, rules in _walk(root, "", []):
        is_dir = entry.is_dir(follow_symlinks=False)
        rule = _decide(rules, rel_path, is_dir)
        if rule is not None:
            plan.excluded.append(Exclusion(rel_path + "/" if is_dir else rel_path, rule))
            continue
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            target = _link_target(entry.path, real_root, root / os.path.dirname(rel_path))
            if target is None:
                outside.append(f"{rel_path} -> {os.readlink(entry.path)}")
            else:
                plan.files.append(BundleFile(rel_path, 0, target))
        elif stat.S_ISREG(mode):
            plan.files.append(BundleFile(rel_path, entry.stat(follow_symlinks=False).st_size))
        elif not stat.S_ISDIR(mode):
            plan.excluded.append(Exclusion(rel_path, "not a regular file, directory or symlink"))
    if outside:
        raise BundleError(
            "symlinks pointing outside the app directory: " + ", ".join(outside),
            "replace them with copies, or list them in .rigignore",
        )
    plan.files.sort(key=lambda f: f.path)
    return plan


def _walk(
    root: Path, rel_dir: str, rules: list[_IgnoreFile]
) -> Iterator[tuple[str, os.DirEntry[str], list[_IgnoreFile]]]:
    """Yield (relative path, entry, rules in force) for every entry, not entering excluded dirs."""
    directory = root / rel_dir
    local_rules = list(rules)
    for name in IGNORE_FILES:
        loaded = _load_ignore_file(directory / name, rel_dir)
        if loaded is not None:
            local_rules.append(loaded)
    with os.scandir(directory) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    for entry in entries:
        if entry.name == ".git":
            continue
        rel_path = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        yield rel_path, entry, local_rules
        if entry.is_dir(follow_symlinks=False) and _decide(local_rules, rel_path, True) is None:
            yield from _walk(root, rel_path, local_rules)


def _link_target(link: str, real_root: str, parent: Path) -> str | None:
    """The link's target made relative to its directory, or None when it resolves outside."""
    resolved = os.path.realpath(link)
    if not _inside(resolved, real_root):
        return None
    raw = os.readlink(link)
    if not os.path.isabs(raw):
        return raw
    return os.path.relpath(resolved, os.path.realpath(parent))


def _git(path: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(path), *args],
            capture_output=True,
            text=True,
            timeout=10,
            env={**environment(), "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_info(path: str | Path) -> dict[str, object] | None:
    """``{"commit", "branch", "dirty", "subject"}`` of the checkout holding ``path``, or None.

    ``branch`` is None on a detached HEAD; ``dirty`` considers only changes under ``path``.
    None when git is missing, ``path`` is not in a work tree, or there is no commit yet.
    """
    path = Path(path)
    commit = _git(path, "rev-parse", "--verify", "--quiet", "HEAD")
    if not commit:
        return None
    branch = _git(path, "symbolic-ref", "--quiet", "--short", "HEAD")
    status = _git(path, "status", "--porcelain", "--", ".")
    subject = _git(path, "log", "-1", "--format=%s", "HEAD")
    return {
        "commit": commit,
        "branch": branch or None,
        "dirty": bool(status),
        "subject": subject or "",
    }
