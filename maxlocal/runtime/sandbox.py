"""The sandbox every tenant process (build, app process, exec session) runs in.

What the machine allows decides the mode, once, when the platform starts:

``uid+namespaces``  the platform runs as root: bubblewrap gives each process private mount,
                    PID, IPC and UTS namespaces, then ``setpriv`` drops to an unprivileged
                    uid/gid of its own (``APP_UIDS + app id``, ``NETWORK_UIDS + network id``
                    for a network's sessions) with ``no_new_privs``, no capabilities and an
                    empty bounding set; files are owned so a tenant can write only its own.
``userns``          the platform runs as an ordinary user: bubblewrap in an unprivileged
                    user namespace (one host uid; the mounts do the separating).
``none``            no bubblewrap (or it cannot work here): one trust domain.

Inside, a process sees a read-only system (``/usr``, ``/etc`` minus its secrets, the
``/bin``-style links, the interpreters and ``uv`` builds use, each bound read-only at its own
path), the directories its caller names (its release read-only for an app or session,
writable for its build; its home writable), a private ``/tmp`` and a private ``/proc``.
The platform's data directory, the operator's home and other tenants' directories are not
there at all. See docs/security.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maxlocal.runtime.netns import NetworkNamespace

from maxlocal.runtime.seccomp import NO_FILTER, Filter, compile_filter

AUTO, SANDBOX, NONE = "auto", "sandbox", "none"
CHOICES = (AUTO, SANDBOX, NONE)
UID_MODE, USERNS_MODE, NO_MODE = "uid+namespaces", "userns", "none"
APP_UIDS = 200_000
"""An app's processes run as ``APP_UIDS + app id`` (and group), never 0 nor the platform's."""
NETWORK_UIDS = 100_000
"""A network's own sessions (``exec:network:<name>``) as ``NETWORK_UIDS + network id``."""
SYSTEM_DIRS = ("/usr", "/etc")
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_SECRET_FILES = ("shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "security/opasswd")
ETC_SECRET_DIRS = ("ssh", "sudoers.d", "ssl/private")
ETC_LINKED = ("resolv.conf", "hosts")
MOUNTED = frozenset({"/", "/usr", "/etc", "/proc", "/dev", "/tmp", "/var/tmp"})
"""Where every sandbox already has a mount (no parent directory to make there)."""
FORWARDED = "INT,TERM,HUP,QUIT,USR1,USR2"
"""Signals bubblewrap's own processes ignore, so that signalling the process group reaches
the tenant's processes (which get them back at their default) instead of killing bwrap,
whose death would take the whole sandbox (its PID namespace) down before the app could
shut down, and hide its exit code."""
PROBE_TIMEOUT = 10.0


class IsolationUnavailable(Exception):
    """``--isolation sandbox`` on a machine where the sandbox cannot work; says why."""


@dataclass(frozen=True)
class Sandbox:
    """How one tenant process is wrapped: the argv that goes before its own."""

    prefix: tuple[str, ...]
    inner: tuple[str, ...]
    seccomp: Filter = NO_FILTER
    guard: tuple[str, ...] = ()
    """What makes bwrap ignore the FORWARDED signals (``env --ignore-signal``): left out
    when the caller's own wrapper ignores them already (``started(guarded=True)``)."""
    network: NetworkNamespace | None = None
    """The network namespace it joins (``runtime.netns``); None: the host's."""

    def wrap(
        self,
        argv: Sequence[str],
        cwd: Path,
        seccomp_fd: int | None = None,
        *,
        guarded: bool = False,
    ) -> list[str]:
        """The whole argv; ``seccomp_fd``: where bwrap reads the filter (``started``)."""
        load = ["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []
        guard = () if guarded else self.guard
        return [*guard, *self.prefix, "--chdir", str(cwd), *load, "--", *self.inner, *argv]

    @contextlib.contextmanager
    def started(
        self, argv: Sequence[str], cwd: Path, *, guarded: bool = False
    ) -> Iterator[tuple[list[str], tuple[int, ...]]]:
        """The argv to start and the descriptors the child must inherit (the filter's
        pipe), closed here once the child has started; ``guarded``: whatever starts it
        ignores the FORWARDED signals already."""
        if not self.seccomp.active:
            yield self.wrap(argv, cwd, guarded=guarded), ()
            return
        fd = self.seccomp.pipe()
        try:
            yield self.wrap(argv, cwd, fd, guarded=guarded), (fd,)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class Isolation:
    """The platform's isolation mode and what it needs to make a sandbox (see module doc)."""

    mode: str
    detail: str
    bwrap: str = ""
    setpriv: str = ""
    env: str = ""
    system: tuple[str, ...] = ()
    """bwrap arguments for the read-only system every sandbox shows."""
    seccomp: Filter = NO_FILTER
    """The seccomp filter every sandbox loads (``runtime.seccomp``), compiled once."""

    @property
    def active(self) -> bool:
        return self.mode != NO_MODE

    @property
    def separate_uids(self) -> bool:
        return self.mode == UID_MODE

    def to_dict(self) -> dict[str, str]:
        return {"mode": self.mode, "detail": self.detail}

    def describe(self) -> str:
        return describe(self.mode, self.detail)

    def sandbox(
        self,
        uid: int | None,
        *,
        read_only: Iterable[Path] = (),
        writable: Iterable[Path] = (),
        mounts: Iterable[tuple[Path, Path]] = (),
        network: NetworkNamespace | None = None,
    ) -> Sandbox | None:
        """A sandbox showing the system plus ``read_only`` and ``writable`` (each at its own
        path; missing ones are skipped) and ``mounts`` (a writable source shown at another
        path), running as ``uid`` when uids are separate, in ``network``'s namespace when
        given (joined before bwrap starts). None when isolation is off."""
        if not self.active:
            return None
        binds: list[str] = []
        made: set[str] = set()
        for path in read_only:
            if path.exists():
                binds += [*_parents(path, made), "--ro-bind", str(path), str(path)]
        for path in writable:
            if path.exists():
                binds += [*_parents(path, made), "--bind", str(path), str(path)]
        for source, shown in mounts:
            binds += [*_parents(shown, made), "--bind", str(source), str(shown)]
        joins = network.enter() if network is not None else ()
        guard = (self.env, f"--ignore-signal={FORWARDED}")
        prefix = (*joins, self.bwrap, *self.system, *binds)
        drop = [self.setpriv, "--no-new-privs"]
        if self.separate_uids:
            assert uid is not None and uid not in (0, os.getuid())
            drop += [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
            drop += ["--inh-caps=-all", "--bounding-set=-all"]
        inner = (*drop, self.env, f"--default-signal={FORWARDED}")
        return Sandbox(prefix, inner, self.seccomp, guard, network)

    # -- ownership: what a tenant may write (only when uids are separate)

    def give(self, path: Path, uid: int | None) -> None:
        """Make ``path`` (recursively) the tenant's own, if it is not already."""
        if not self.separate_uids or uid is None or not path.exists():
            return
        if path.lstat().st_uid == uid:
            return
        for item in _walk(path):
            os.lchown(item, uid, uid)

    def seal(self, path: Path) -> None:
        """Make what a tenant built (a shared dependency environment) the platform's and
        read-only to every tenant: owner back to the platform, no group/other write, no
        set-id bits (a tenant could have set them while it owned the files)."""
        if not self.separate_uids or not path.exists():
            return
        me, group = os.getuid(), os.getgid()
        for item in _walk(path):
            os.lchown(item, me, group)
            mode = item.lstat().st_mode
            if not stat.S_ISLNK(mode):
                os.chmod(item, stat.S_IMODE(mode) & ~(0o022 | stat.S_ISUID | stat.S_ISGID))


def describe(mode: str, detail: str) -> str:
    """The isolation a platform has, in the words of ``rig local start``/``status`` and of
    the platform's log (from ``/api/v1/health``'s or server.json's ``mode`` and ``detail``)."""
    if mode == NO_MODE:
        return f"none — one trust domain ({detail})"
    return f"{mode} ({detail})"


def _parents(path: Path | str, made: set[str]) -> list[str]:
    """bwrap arguments making ``path``'s missing parents traversable (0755): bwrap makes
    them 0700 otherwise, which a tenant uid cannot cross to reach what is bound below."""
    args: list[str] = []
    for parent in reversed(Path(path).parents):
        name = str(parent)
        if name not in made and name not in MOUNTED:
            made.add(name)
            args += ["--perms", "0755", "--dir", name]
    return args


def _walk(root: Path) -> Iterable[Path]:
    yield root
    if root.is_dir() and not root.is_symlink():
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                yield Path(folder) / name


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def app_uid(app_id: int) -> int:
    return APP_UIDS + app_id


def network_uid(network_id: int) -> int:
    if network_id >= APP_UIDS - NETWORK_UIDS:
        raise ValueError(f"network id {network_id} is beyond the uid range of networks")
    return NETWORK_UIDS + network_id


def linked_layers(release: Path) -> list[Path]:
    """The shared environments a release links to (its ``.venv``, ``node_modules``...):
    every top-level symlink of the release that leads out of it, resolved."""
    found = []
    root = release.resolve()
    try:
        entries = list(release.iterdir())
    except OSError:
        return []
    for entry in entries:
        if entry.is_symlink():
            target = entry.resolve()
            if root not in target.parents and target.exists():
                found.append(target)
    return found


# -- choosing the mode


def choose(wanted: str, extra_read_only: Iterable[Path] = ()) -> Isolation:
    """The isolation ``wanted`` (auto/sandbox/none) as far as this machine allows; the
    system binds include ``extra_read_only`` (interpreters and tools outside ``/usr``).
    ``sandbox`` on a machine that cannot: IsolationUnavailable."""
    if wanted == NONE:
        return Isolation(NO_MODE, "turned off by --isolation none")
    tools = {name: shutil.which(name, path="/usr/bin:/bin") for name in ("bwrap", "setpriv", "env")}
    missing = [name for name, found in tools.items() if not found]
    if missing:
        why = f"{' and '.join(missing)} not found: install bubblewrap (scripts/install-system-deps)"
        return _unavailable(wanted, why)
    root = os.geteuid() == 0
    mode = UID_MODE if root else USERNS_MODE
    system = _system_args(extra_read_only, userns=not root)
    seccomp = compile_filter()
    isolation = Isolation(
        mode, "", str(tools["bwrap"]), str(tools["setpriv"]), str(tools["env"]), system, seccomp
    )
    problem = _probe(isolation)
    if problem:
        return _unavailable(wanted, f"bwrap cannot make a sandbox here: {problem}")
    version = _bwrap_version(isolation.bwrap)
    detail = (
        f"{version}; a uid per app, private mount/pid/ipc/uts namespaces"
        if root
        else f"{version}; an unprivileged user namespace (one host uid), private mounts/pids"
    )
    detail = f"{detail}; {seccomp.detail}"
    return Isolation(
        mode, detail, isolation.bwrap, isolation.setpriv, isolation.env, system, seccomp
    )


def _unavailable(wanted: str, why: str) -> Isolation:
    if wanted == SANDBOX:
        raise IsolationUnavailable(why)
    return Isolation(NO_MODE, why)


def _system_args(extra_read_only: Iterable[Path], *, userns: bool) -> tuple[str, ...]:
    args: list[str] = ["--unshare-user", "--cap-drop", "ALL"] if userns else []
    # No --die-with-parent: its parent-death signal follows the platform *thread* that
    # started bwrap, which ends long before the app; a platform that dies leaves its
    # sandboxes to the stray sweep of its next start (strays.py), as it did its processes.
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    args += ["--hostname", "sandbox"]
    for directory in SYSTEM_DIRS:
        args += ["--ro-bind", directory, directory]
    for name in ETC_SECRET_FILES:
        if os.path.isfile(f"/etc/{name}"):
            args += ["--ro-bind", "/dev/null", f"/etc/{name}"]
    for name in ETC_SECRET_DIRS:
        if os.path.isdir(f"/etc/{name}"):
            args += ["--tmpfs", f"/etc/{name}"]
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    args += ["--perms", "0755", "--dir", "/var", "--perms", "1777", "--tmpfs", "/var/tmp"]
    made = {"/var"}
    # /etc/resolv.conf is often a link into /run (systemd-resolved): builds need the name
    # servers to reach the registries, so what it leads to is shown too.
    links = {os.path.realpath(f"/etc/{name}") for name in ETC_LINKED}
    for path in sorted({str(p) for p in extra_read_only} | links):
        if os.path.exists(path) and not path.startswith(SYSTEM_DIRS):
            args += [*_parents(path, made), "--ro-bind", path, path]
    return tuple(args)


def _probe(isolation: Isolation) -> str | None:
    """Run ``true`` in a sandbox as a tenant would be; what went wrong, or None."""
    box = isolation.sandbox(APP_UIDS)
    assert box is not None
    try:
        with box.started(["/bin/true"], Path("/")) as (argv, fds):
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT,
                env={"PATH": "/usr/bin:/bin"},
                pass_fds=fds,
            )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    return None


def _bwrap_version(bwrap: str) -> str:
    try:
        out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "bwrap"
    return out.stdout.strip().replace("bubblewrap ", "bwrap ") or "bwrap"


class SandboxedPopen(subprocess.Popen[bytes]):
    """A process started inside bwrap: bwrap reports a tenant killed by signal N as exit
    code 128+N, turned back into Popen's -N so callers see what they would without it."""

    def _handle_exitstatus(self, sts: int, *args: Any, **kwargs: Any) -> None:
        super()._handle_exitstatus(sts, *args, **kwargs)  # type: ignore[misc]
        code = self.returncode
        if code is not None and 128 < code < 128 + 65:
            self.returncode = -(code - 128)


@dataclass(frozen=True)
class BuildBox:
    """The sandboxes of one release's build: the release and the app's home writable, and
    the app's own build area (``Toolbox.for_app``: its environments and download caches)
    writable as one mount, so that uv can hardlink from the cache into the environment
    being built (a link across two mounts fails). Nothing in the area is used by another
    app's build or process; environments from elsewhere that the release links to are
    shown read-only."""

    isolation: Isolation
    uid: int | None
    release: Path
    home: Path
    area: Path | None = None
    network: NetworkNamespace | None = None
    env: dict[str, str] = field(default_factory=dict)
    """What every step's environment gets on top of its own: the way out of the network's
    namespace (``runtime.egress``)."""

    def step(self, building: Path | None = None) -> Sandbox | None:
        """The sandbox of a step; ``building``: the environment the step builds."""
        own = self.area or building  # the area holds the environment its app builds
        layers = [p for p in linked_layers(self.release) if own is None or not _within(p, own)]
        writable = [self.release, self.home, *([own] if own else [])]
        return self.isolation.sandbox(
            self.uid, read_only=layers, writable=writable, network=self.network
        )

    def open(self, path: Path) -> None:
        """Make ``path`` (an environment about to be built) exist and be the tenant's."""
        if self.isolation.active:
            path.mkdir(parents=True, exist_ok=True)
            self.isolation.give(path, self.uid)

    def seal(self, path: Path) -> None:
        self.isolation.seal(path)
