"""Per-app resource limits (memory, process count, CPU) through Linux cgroups, v1 or v2.

The platform makes one parent group, ``maxlocal-<instance>``, under its *own* group in each
hierarchy (so whatever limits the operator put on the platform still hold for its tenants,
and two platforms of one machine never share a group), and below it a group per app and,
inside that, one per running deployment, build or exec session: ``<app>/<part>``. The limits
sit on those leaves, so a release being switched in does not share its budget with the one
going out, and the kernel's out-of-memory kills are counted per deployment.

A tenant process joins its group before its command starts (``Cgroup.prefix``: a ``/bin/sh``
that moves itself into each group and then ``exec``\\ s the command), so every descendant is
inside from its first instruction. On v1 it writes ``0`` (itself) to ``tasks``, which moves
the shell's one thread, rather than to ``cgroup.procs``, which moves a thread group: the
kernel (since 6.4) moves the writer's own thread without write-locking the global
threadgroup semaphore, a lock that waits for an RCU grace period when no migration happened
lately (7 ms on an idle machine, 27 ms under load, paid by every build step and process
start). For a single-threaded shell both are the same move; older kernels take the lock
either way.

A shell prefix rather than a ``preexec_fn``: the platform is threaded, and code run between
``fork`` and ``exec`` in a threaded Python can deadlock; the prefix costs one ``exec`` of
``/bin/sh`` (~1 ms) and keeps ``subprocess`` on its fast ``vfork`` path.

Where no group can be made (no cgroup file system, or not writable without delegation),
``Cgroups.detect`` says why and every ``group`` is None: processes run without limits, and
``/api/v1/health`` (``"limits"``), ``rig local start`` and ``rig local status`` say so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
MiB = 1024 * 1024
_UNITS = {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB, "T": 1024 * 1024 * MiB}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
_JOIN = 'while [ "$1" != -- ]; do echo 0 > "$1" || exit 125; shift; done; shift; exec "$@"'
"""The join prefix's script: ``sh -c _JOIN cgjoin <join files> -- <argv>`` (``0``: the
writer itself, on v1 and v2 alike). Exit code 125 (the convention of ``env``/``nice`` for
"the wrapper failed") when a join is refused."""


class LimitError(ValueError):
    """A limit given in ``rig.toml`` or on the command line is not one; the message says why."""


def parse_size(text: str | int, what: str = "memory") -> int:
    """Bytes from ``512M``, ``1.5G``, ``1GiB``, ``65536`` (an int is bytes already);
    ``what`` the limit is, for the error."""
    if isinstance(text, int) and not isinstance(text, bool):
        size = text
    else:
        match = _SIZE.match(str(text))
        if match is None:
            raise LimitError(f"{text!r} is not a size: use a number with K, M or G, e.g. '512M'")
        size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size < 4 * MiB:
        raise LimitError(f"{text!r} is too small a {what} limit: at least 4M")
    return size


def human_size(size: int) -> str:
    """``512 MiB``, ``1.5 GiB``: how a limit is shown back."""
    for unit, factor in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} B"


@dataclass(frozen=True)
class Resources:
    """What one app's deployment may use; None: no limit."""

    memory: int | None = 512 * MiB
    processes: int | None = 256
    cpu: float | None = 1.0
    disk: int | None = 4 * 1024 * MiB
    """What the app's home (its one writable directory) may hold, and the largest file any
    of its processes may write (``RLIMIT_FSIZE``): see ``Cgroup.prefix`` and the supervisor's
    disk watch."""

    def describe(self) -> str:
        """``memory 512 MiB, 256 processes, 1 CPU, disk 4 GiB``."""
        parts = [
            f"memory {human_size(self.memory)}" if self.memory else "memory unlimited",
            f"{self.processes} processes" if self.processes else "processes unlimited",
            f"{self.cpu:g} CPU" if self.cpu else "CPU unlimited",
            f"disk {human_size(self.disk)}" if self.disk else "disk unlimited",
        ]
        return ", ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {
            "memory": self.memory,
            "processes": self.processes,
            "cpu": self.cpu,
            "disk": self.disk,
        }


DEFAULT_RESOURCES = Resources()


def for_build(resources: Resources) -> Resources:
    """A build's limits: the app's, except CPU, which may be the whole machine's. As Heroku's
    and Railway's builders get more than a dyno: a build is short and one at a time per app,
    `npm ci` and compilers use every core (a 1-CPU quota made a bare `npm ci` 1.3x slower),
    and the run-time cap is about sharing the machine between running apps. Memory,
    processes and disk stay the app's; builds of several apps still share the CPUs fairly."""
    if resources.cpu is None:
        return resources
    return dataclasses.replace(resources, cpu=max(resources.cpu, float(os.cpu_count() or 1)))


def resources_from(table: object, base: Resources = DEFAULT_RESOURCES) -> Resources:
    """``[resources]`` of ``rig.toml`` over ``base``: ``memory = "512M"``, ``processes = 256``,
    ``cpu = 1.0``, ``disk = "4G"``; LimitError names the key that is wrong."""
    if not isinstance(table, dict):
        raise LimitError('[resources] must be a table, e.g. memory = "512M"')
    unknown = sorted(set(table) - {"memory", "processes", "cpu", "disk"})
    if unknown:
        raise LimitError(f"[resources]: unknown key {unknown[0]!r} (memory, processes, cpu, disk)")
    memory, processes, cpu, disk = base.memory, base.processes, base.cpu, base.disk
    if "memory" in table:
        memory = parse_size(table["memory"])
    if "disk" in table:
        disk = parse_size(table["disk"], "disk")
    if "processes" in table:
        value = table["processes"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LimitError("[resources]: 'processes' must be a whole number of at least 1")
        processes = value
    if "cpu" in table:
        value = table["cpu"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0.01:
            raise LimitError("[resources]: 'cpu' must be a number of CPUs of at least 0.01")
        cpu = float(value)
    return Resources(memory, processes, cpu, disk)


class Cgroup:
    """One group: a directory per controller on v1, one directory on v2."""

    def __init__(self, dirs: dict[str, Path], version: int, resources: Resources) -> None:
        self.dirs = dirs  # controller (or "unified") -> directory
        self.version = version
        self.resources = resources
        self._oom_seen = 0
        self._lock = threading.Lock()

    @property
    def procs_files(self) -> list[str]:
        return self._in_each("cgroup.procs")

    @property
    def join_files(self) -> list[str]:
        """Where the join prefix writes: v1's ``tasks`` (see the module doc), v2's
        ``cgroup.procs`` (v2 has no ``tasks``; it has no global lock to spare there either
        unless mounted with ``favordynmods``)."""
        return self._in_each("tasks" if self.version == 1 else "cgroup.procs")

    def _in_each(self, name: str) -> list[str]:
        """The file ``name`` of each of the group's directories (one on v2)."""
        return [str(path / name) for path in dict.fromkeys(self.dirs.values())]

    def prefix(self, ignoring: str = "") -> list[str]:
        """The argv that joins this group and then ``exec``\\ s what follows it; with a disk
        limit, no file written by what follows can grow past it (``ulimit -f``, in 512-byte
        blocks: a write beyond fails with EFBIG, or SIGXFSZ ends a program that does not
        ignore it; Python does). ``ignoring``: signals (``INT,TERM``) that what follows
        starts with ignored (a sandbox's bwrap, see ``sandbox.FORWARDED``)."""
        disk = self.resources.disk
        script = f"ulimit -f {-(-disk // 512)} && {_JOIN}" if disk else _JOIN
        if ignoring:
            script = f"trap '' {ignoring.replace(',', ' ')}; {script}"
        return ["/bin/sh", "-c", script, "cgjoin", *self.join_files, "--"]

    def oom_kills(self) -> int:
        """How many of the group's processes the kernel has killed for its memory limit."""
        memory = self.dirs.get("memory")
        if memory is None:
            return 0
        name, field = (
            ("memory.oom_control", "oom_kill")
            if self.version == 1
            else (
                "memory.events",
                "oom_kill",
            )
        )
        with contextlib.suppress(OSError, ValueError):
            for line in (memory / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == field:
                    return int(value)
        return 0

    def new_oom_kills(self) -> int:
        """The out-of-memory kills since the last call (for one exit, told once)."""
        with self._lock:
            total = self.oom_kills()
            new, self._oom_seen = max(0, total - self._oom_seen), max(total, self._oom_seen)
            return new

    def pids(self) -> list[int]:
        """The processes in the group (any controller's directory lists them all)."""
        for path in self.dirs.values():
            with contextlib.suppress(OSError, ValueError):
                return [int(p) for p in (path / "cgroup.procs").read_text().split()]
        return []

    def kill(self, rounds: int = 50) -> None:
        """SIGKILL every process in the group, again while any is left (one may have been
        forking meanwhile; the pids limit bounds how many there can be)."""
        for _ in range(rounds):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def remove(self) -> bool:
        """Remove the group's directories (they must be empty of processes)."""
        gone = True
        for path in dict.fromkeys(self.dirs.values()):
            gone = _rmdir_tree(path) and gone
        return gone


class Cgroups:
    """The platform's groups (see the module's docstring); ``group`` makes one for a tenant."""

    def __init__(self, version: int, parents: dict[str, Path], detail: str) -> None:
        self.version = version  # 0: limits are off
        self.parents = parents
        self.detail = detail
        self.defaults = DEFAULT_RESOURCES
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.version > 0

    @property
    def mode(self) -> str:
        return f"cgroup v{self.version}" if self.enabled else "off"

    def to_dict(self) -> dict[str, object]:
        """What ``/api/v1/health`` says under ``"limits"``."""
        return {
            "mode": self.mode,
            "detail": self.detail,
            "defaults": self.defaults.to_dict(),
            "summary": self.describe(),
        }

    def describe(self) -> str:
        """For ``rig local start``/``status``: ``cgroup v1 — per app: memory 512 MiB, ...``."""
        if not self.enabled:
            return f"off — {self.detail}"
        return f"{self.mode} — per app by default: {self.defaults.describe()}"

    def log_line(self) -> str:
        """The platform log's ``limits:`` line at start: mode, defaults and where."""
        return self.describe() + (f" ({self.detail})" if self.enabled else "")

    @classmethod
    def off(cls, why: str) -> Cgroups:
        return cls(0, {}, why)

    @classmethod
    def detect(cls, instance: str, root: Path = ROOT, *, enable: bool = True) -> Cgroups:
        """Make ``maxlocal-<instance>`` under the platform's own group: on v2 when ``root``
        is a cgroup2 mount with the controllers, else on v1's ``memory``, ``pids`` and
        ``cpu`` hierarchies; off (with the reason) when neither can be written."""
        if not enable:
            return cls.off("turned off (--limits off)")
        name = f"maxlocal-{instance}"
        own = _own_groups()
        if (root / "cgroup.controllers").is_file():
            return cls._v2(root, own.get("", "/"), name)
        if all((root / c / "cgroup.procs").is_file() for c in V1_CONTROLLERS):
            parents: dict[str, Path] = {}
            try:
                for controller in V1_CONTROLLERS:
                    parent = root / controller / own.get(controller, "/").lstrip("/") / name
                    parent.mkdir(exist_ok=True)
                    parents[controller] = parent
            except OSError as e:
                return cls.off(f"cannot make cgroups under {root} ({e.strerror}): no limits")
            return cls(1, parents, f"{', '.join(V1_CONTROLLERS)} under {root}")
        return cls.off(f"no cgroup hierarchy with memory, pids and cpu at {root}: no limits")

    @classmethod
    def _v2(cls, root: Path, own: str, name: str) -> Cgroups:
        """v2: controllers must be on in the parent's ``cgroup.subtree_control``, which a
        group holding processes (ours, unless it is the root) cannot do: then off, with how
        to give the platform a delegated group of its own."""
        base = root / own.lstrip("/")
        wanted = ("memory", "pids", "cpu")
        try:
            available = (base / "cgroup.controllers").read_text().split()
        except OSError as e:
            return cls.off(f"cannot read {base}/cgroup.controllers ({e.strerror}): no limits")
        missing = [c for c in wanted if c not in available]
        if missing:
            return cls.off(f"cgroup v2 at {base} lacks the {', '.join(missing)} controller")
        parent = base / name
        try:
            _enable(base, wanted)
            parent.mkdir(exist_ok=True)
            _enable(parent, wanted)
        except OSError as e:
            return cls.off(
                f"cannot delegate cgroup v2 controllers at {base} ({e.strerror}): run the "
                "platform in a group of its own (e.g. systemd-run --user -p Delegate=yes)"
            )
        return cls(2, {"unified": parent}, f"memory, pids, cpu under {parent.parent}")

    def group(self, path: tuple[str, ...], resources: Resources | None) -> Cgroup | None:
        """The group ``<app>/<part>`` (made if new) with ``resources`` (None: only
        accounted); None when limits are off or it cannot be made."""
        if not self.enabled:
            return None
        limits = resources or Resources(None, None, None)
        dirs: dict[str, Path] = {}
        with self._lock:
            try:
                for controller, parent in self.parents.items():
                    directory = parent
                    for part in path:
                        if self.version == 2 and directory != parent:
                            _enable(directory, ("memory", "pids", "cpu"))
                        directory = directory / _safe(part)
                        directory.mkdir(exist_ok=True)
                    dirs[controller] = directory
            except OSError:
                return None
        group = Cgroup(dirs, self.version, limits)
        _write_limits(group)
        group.new_oom_kills()  # a reused group's old kills are not this one's
        return group

    def remove(self, *path: str) -> None:
        """Remove the group ``path`` and all below it (their processes must be gone)."""
        with self._lock:
            for parent in self.parents.values():
                _rmdir_tree(parent.joinpath(*(_safe(p) for p in path)))

    def clear(self) -> None:
        """Empty and remove the groups a previous run of this platform left (it was killed):
        what still runs in them is killed, whatever its process group or environment."""
        with self._lock:
            for parent in self.parents.values():
                for leftover in sorted(parent.glob("*/*"), reverse=True):
                    if leftover.is_dir():
                        Cgroup({"leftover": leftover}, self.version, Resources()).kill()
                        _rmdir_tree(leftover)
                for leftover in parent.glob("*"):
                    if leftover.is_dir():
                        _rmdir_tree(leftover)

    def close(self) -> None:
        """Remove every group of this platform (its processes are stopped by now)."""
        with self._lock:
            for parent in self.parents.values():
                _rmdir_tree(parent)


def _safe(part: str) -> str:
    """A path part as a directory name: ``shop/api`` -> ``shop.api``."""
    return re.sub(r"[^A-Za-z0-9_.-]", ".", part).lstrip(".") or "_"


def _own_groups() -> dict[str, str]:
    """The platform process's group in each hierarchy (``""``: the v2 one)."""
    groups: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                groups[controller] = path
    return groups


def _enable(directory: Path, controllers: tuple[str, ...]) -> None:
    control = directory / "cgroup.subtree_control"
    on = control.read_text().split()
    todo = " ".join(f"+{c}" for c in controllers if c not in on)
    if todo:
        control.write_text(todo)


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
    except OSError:
        return False
    return True


def _write_limits(group: Cgroup) -> None:
    """Set the group's limits (``max``/``-1`` where there is none)."""
    r = group.resources
    if group.version == 1:
        memory, pids, cpu = (group.dirs[c] for c in V1_CONTROLLERS)
        limit = str(r.memory) if r.memory else "-1"
        # memsw (memory + swap) must stay at or above the memory limit: whichever way the
        # limit moves, one of these orders works; both are tried.
        for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes") * 2:
            if (memory / name).exists():
                _write(memory / name, limit)
        _write(pids / "pids.max", str(r.processes) if r.processes else "max")
        _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        quota = str(int(r.cpu * CPU_PERIOD_US)) if r.cpu else "-1"
        _write(cpu / "cpu.cfs_quota_us", quota)
        return
    unified = group.dirs["unified"]
    _write(unified / "memory.max", str(r.memory) if r.memory else "max")
    _write(unified / "memory.swap.max", "0" if r.memory else "max")
    _write(unified / "pids.max", str(r.processes) if r.processes else "max")
    quota = str(int(r.cpu * CPU_PERIOD_US)) if r.cpu else "max"
    _write(unified / "cpu.max", f"{quota} {CPU_PERIOD_US}")


def _rmdir_tree(directory: Path) -> bool:
    """rmdir ``directory`` and the groups below it, deepest first (a cgroup directory's files
    are the kernel's: only empty groups can go, with ``rmdir``)."""
    if not directory.is_dir():
        return True
    gone = True
    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            gone = _rmdir_tree(Path(entry.path)) and gone
    try:
        directory.rmdir()
    except OSError:
        return False
    return gone


def disk_used(path: Path) -> int:
    """Disk blocks in use under ``path``, in bytes, as ``du`` counts them (symlinks not
    followed)."""
    total = 0
    try:
        entries = list(os.scandir(path))
    except OSError:
        return 0
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        total += info.st_blocks * 512
        if entry.is_dir(follow_symlinks=False):
            total += disk_used(Path(entry.path))
    return total
