"""A network namespace per network: apps of one network reach each other, not another's.

Every tenant process of a network (its apps' processes, builds and exec sessions) joins
that network's namespace (``nsenter --net`` before bubblewrap; Debian 12's bwrap 0.8 has no
option to join one). Inside, loopback is the network's own: an app of network B that
connects to ``127.0.0.1:<port of an app of A>`` finds nothing there.

The parts, when the platform is root (``Namespaces.choose``):

- the namespace: ``ip netns add`` (bound at ``/run/netns/<name>``, so it lives without a
  process in it), loopback up. Named after the platform's data directory and the network's
  id; a platform that starts deletes what a previous run of it left (``reconcile``, from
  ``Runtime.reconcile``).
- outbound: one ``pasta`` (Debian's ``passt``) per namespace gives it the host's address and
  routes, and makes the tenant's connections from the host: the registries are reachable.
  ``--no-map-gw``: the gateway is not the host's loopback, and ``-T none -U none``: no port
  bound on the host's loopback is shown inside, so the platform's API and other networks'
  apps (all on the host's loopback) are out of reach.
- inbound: for each app instance's port, a forwarder (a HAProxy of its own, or
  ``runtime.inbound`` without HAProxy; not pasta's ``-t``: see ``runtime.inbound`` why) that
  holds the host's ``127.0.0.1:<port>`` and splices each connection to ``127.0.0.1:<port>``
  inside the namespace, where the app listens. So the router keeps its contract (a host
  loopback address per app instance); ``listener`` checks both ends (the host's listener is
  this forwarder's, the namespace's is the app's own).

pasta exits by itself when the namespace it serves is deleted; forwarders are ended with it
(``_delete``).

When the platform is not root (``userns`` mode) it cannot ``ip netns add``; instead each
network has a holder, ``unshare --user --map-current-user --net sleep infinity``, that owns
a user namespace and the network namespace in it. Its tenants join both (``nsenter --user
--net --preserve-credentials -t <holder>``, before bubblewrap, which makes its own nested
user namespace; the uid stays the operator's), its pastas are attached to it through
``/proc/<holder>/ns/`` and its forwarders join it as tenants do. Everything else is the
same. pasta opens ``/dev/net/tun``, which must be open to the operator (it is on a stock
desktop; some containers keep it root's).

Every holder, pasta and forwarder carries ``MAXLOCAL_NETNS=<namespace name>`` in its
environment (not the stray marker: stray counts are about tenant processes), which is how
they are found to be ended.

A platform that dies without closing (SIGKILL, a crash) must not leave its namespaces and
pastas on the machine until its next start: with its first namespace the platform starts a
watcher (``WATCH``, in a session of its own, without the stray marker) that holds the read
end of a pipe only the platform holds the write end of. When the platform is gone, for
whatever reason, the watcher reads EOF and ``sweep``s the platform's prefix: the same clean-up
a restart does (``reconcile``), within moments of the death instead of at the next start.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

RUN_NETNS = Path("/run/netns")
NETNS_VAR = "MAXLOCAL_NETNS"
TUN = "/dev/net/tun"
WATCH = (
    "import sys\n"
    "sys.stdin.buffer.read()  # EOF: the platform is gone, or has closed\n"
    "from maxlocal.runtime.netns import sweep\n"
    "sweep(*sys.argv[1:])\n"
)
"""The watcher's program: argv is ``prefix ip`` (``ip`` empty in userns mode)."""
TOOL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
TIMEOUT = 10.0
INBOUND = str(Path(__file__).with_name("inbound.py"))
INBOUND_HAPROXY = """\
global
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 1d
    timeout server 1d
    retries 0
frontend inbound
    bind fd@{fd}
    default_backend app
backend app
    option splice-auto
    server app 127.0.0.1:{port}
"""
"""An instance's inbound HAProxy: bytes only; the edge in front keeps the app's timeouts (a
day here: never the shorter of the two) and its retries (none here: a refused connection
closes the visitor's at once, and the edge tries another instance)."""
BACKLOG = 1024
NO_PORTS = ("-u", "none", "-T", "none", "-U", "none")
"""pasta forwards no UDP port inbound and no port at all from the namespace to the host."""


class NetnsError(Exception):
    """A network namespace could not be made; says why."""


def run_tool(
    argv: list[str], env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = ()
) -> None:
    """Run a tool to its end (``pass_fds``: descriptors it inherits); NetnsError with its
    last line of error when it fails."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=TIMEOUT, env=env, pass_fds=pass_fds
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise NetnsError(f"{argv[0]}: {exc}") from exc
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line and "to syslog" not in line] or [
            f"exit code {done.returncode}"
        ]
        raise NetnsError(f"{' '.join(argv[:3])}: {lines[-1]}")


@dataclass(frozen=True)
class Tools:
    ip: str
    """Empty in userns mode (holders instead of ``ip netns``)."""
    pasta: str
    nsenter: str
    unshare: str = ""
    haproxy: str = ""
    """Each app instance's inbound forwarder when installed (``forward``); empty: the
    platform's own, ``runtime.inbound``."""

    @property
    def userns(self) -> bool:
        return not self.ip


@dataclass(frozen=True)
class NetworkNamespace:
    """One network's namespace: where its processes run, and how ports reach it."""

    name: str
    tools: Tools
    holder: int = 0
    """userns mode: the pid of the process that holds the user and network namespaces."""

    @property
    def path(self) -> Path:
        if self.holder:
            return Path(f"/proc/{self.holder}/ns/net")
        return RUN_NETNS / self.name

    @property
    def env(self) -> dict[str, str]:
        """The environment of its holder and pastas: how they are found to be ended."""
        return {"PATH": TOOL_PATH, NETNS_VAR: self.name}

    def enter(self) -> tuple[str, ...]:
        """The argv prefix that runs a command in this namespace (exec, no extra process)."""
        if self.holder:
            user_net = ("--user", "--net", "--preserve-credentials", "-t", str(self.holder))
            return (self.tools.nsenter, *user_net)
        return (self.tools.nsenter, f"--net={self.path}")

    def pasta(self) -> list[str]:
        """pasta, attached to this namespace."""
        if self.holder:
            # --runas: as ourselves (pasta started by root would drop to nobody, who may
            # not join the holder's namespaces; only tests run this mode as root)
            user = f"/proc/{self.holder}/ns/user"
            argv = [self.tools.pasta, "--runas", str(os.getuid()), "--userns", user]
            return [*argv, "--netns", str(self.path), "-q"]
        return [self.tools.pasta, "--runas", "0", "--netns", str(self.path), "-q"]

    def forward(self, port: int) -> Forwarder:
        """Start forwarding the host's ``127.0.0.1:port`` to ``127.0.0.1:port`` inside, not
        with pasta's ``-t`` (see ``runtime.inbound`` why): a HAProxy of its own in TCP mode
        where HAProxy is installed (splice in C: what the router's figures are measured
        with), else ``runtime.inbound``. The host's listener is bound here and handed over,
        so it queues visitors from now on; NetnsError when the port is taken."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        config = -1
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(BACKLOG)
            fd = listener.fileno()
            if self.tools.haproxy:
                config = _config_pipe(INBOUND_HAPROXY.format(fd=fd, port=port))
                argv = [self.tools.haproxy, "-q", "-db", "-f", f"/dev/fd/{config}"]
                fds: tuple[int, ...] = (fd, config)
            else:
                argv, fds = [sys.executable, "-I", "-S", INBOUND, str(fd), str(port)], (fd,)
            return Forwarder(port, _detached([*self.enter(), *argv], self.env, fds))
        except OSError as exc:
            raise NetnsError(f"forwarding port {port}: {exc.strerror or exc}") from exc
        finally:
            listener.close()  # the forwarder's alone: the router's checks find it its owner
            if config >= 0:
                os.close(config)


def _haproxy() -> str:
    """HAProxy, for the inbound forwarders, where the other tools are looked for (system
    directories, not the operator's PATH); empty when it is not installed."""
    return shutil.which("haproxy", path=TOOL_PATH) or ""


def _config_pipe(text: str) -> int:
    """The read end of a pipe that holds ``text`` whole (a configuration of a few lines,
    well under a pipe's buffer): a file to read without a file on disk."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, text.encode())
    finally:
        os.close(write_end)
    return read_end


def _detached(
    argv: list[str],
    env: dict[str, str],
    pass_fds: tuple[int, ...] = (),
    stdin: int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start a helper (holder, pasta, forwarder, watcher) in a session of its own, so that a
    kill of the platform's process group spares it (each is ended on purpose:
    ``_end_marked``, ``_end_watchers``, ``Forwarder.stop``)."""
    return subprocess.Popen(
        argv,
        env=env,
        cwd="/",
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        pass_fds=pass_fds,
    )


@dataclass
class Forwarder:
    """The process that holds an app instance's host port and splices it into the namespace."""

    port: int
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


class Namespaces:
    """The platform's network namespaces, one per network id, made when first needed."""

    def __init__(self, data_dir: Path, tools: Tools | None, why_not: str = "") -> None:
        digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:8]
        self.prefix = f"rig{digest}n"
        self.tools = tools
        self.why_not = why_not
        self._made: dict[int, NetworkNamespace] = {}
        self._lock = threading.Lock()
        self._watcher: subprocess.Popen[bytes] | None = None
        self._watch_end = -1

    @classmethod
    def choose(cls, data_dir: Path, wanted: bool) -> Namespaces:
        """Per-network namespaces when ``wanted`` (isolation is on) and the machine allows:
        the platform is root (``ip netns`` and joining need CAP_SYS_ADMIN in the host) and
        has ``ip``, ``pasta`` and ``nsenter``. Otherwise every tenant shares the host's
        network namespace (today's behaviour), and ``describe`` says why."""
        if not wanted:
            return cls(data_dir, None, "isolation is off")
        if os.geteuid() != 0:
            return cls._choose_userns(data_dir)
        found = {name: shutil.which(name, path=TOOL_PATH) for name in ("ip", "pasta", "nsenter")}
        missing = [name for name, path in found.items() if not path]
        if missing:
            why = f"{' and '.join(missing)} not found: install passt (scripts/install-system-deps)"
            return cls(data_dir, None, why)
        tools = Tools(
            str(found["ip"]), str(found["pasta"]), str(found["nsenter"]), haproxy=_haproxy()
        )
        made = cls(data_dir, tools)
        probe = f"{made.prefix}probe"
        try:
            run_tool([tools.ip, "netns", "add", probe])
            run_tool([tools.ip, "netns", "delete", probe])
        except NetnsError as exc:
            return cls(data_dir, None, f"ip netns cannot make one here: {exc}")
        return made

    @classmethod
    def _choose_userns(cls, data_dir: Path) -> Namespaces:
        """Not root: a holder per network, when ``unshare``, ``pasta`` and ``nsenter`` are
        there, an unprivileged user namespace with a network namespace can be made, and
        pasta can open ``/dev/net/tun``."""
        names = ("unshare", "pasta", "nsenter")
        found = {name: shutil.which(name, path=TOOL_PATH) for name in names}
        missing = [name for name, path in found.items() if not path]
        if missing:
            why = f"{' and '.join(missing)} not found: install passt (scripts/install-system-deps)"
            return cls(data_dir, None, f"userns mode: {why}")
        try:
            os.close(os.open(TUN, os.O_RDWR))
        except OSError as exc:
            why = f"userns mode: pasta cannot open {TUN} ({exc.strerror}; it is root's here)"
            return cls(data_dir, None, why)
        tools = Tools(
            "", str(found["pasta"]), str(found["nsenter"]), str(found["unshare"]), _haproxy()
        )
        try:
            run_tool([tools.unshare, "--user", "--map-current-user", "--net", "true"])
        except NetnsError as exc:
            return cls(data_dir, None, f"userns mode: no user namespace here: {exc}")
        return cls(data_dir, tools)

    @property
    def active(self) -> bool:
        return self.tools is not None

    def describe(self) -> str:
        if self.tools is not None and self.tools.userns:
            return "a network namespace per network (pasta, in a user namespace)"
        if self.active:
            return "a network namespace per network (pasta)"
        return f"one shared network namespace ({self.why_not})"

    def name(self, network_id: int) -> str:
        """The name of network ``network_id``'s namespace."""
        return f"{self.prefix}{network_id}"

    def get(self, network_id: int) -> NetworkNamespace | None:
        """Network ``network_id``'s namespace, made now if it is not there yet; None when
        namespaces are off. NetnsError when it cannot be made."""
        if self.tools is None:
            return None
        with self._lock:
            found = self._made.get(network_id)
            if found is not None and found.path.exists():
                return found
            space = NetworkNamespace(self.name(network_id), self.tools)
            self._watch()
            space = self._make(space)
            self._made[network_id] = space
            return space

    def _make(self, space: NetworkNamespace) -> NetworkNamespace:
        """Make the namespace and its outbound pasta; the namespace as made (in userns
        mode it gets its holder's pid)."""
        assert self.tools is not None
        ip = self.tools.ip
        try:
            if self.tools.userns:
                space = self._hold(space)
            else:
                if not space.path.exists():
                    run_tool([ip, "netns", "add", space.name])
                run_tool([ip, "-n", space.name, "link", "set", "lo", "up"])
            # daemonizes once the namespace is configured (loopback up too); quits when
            # the namespace is deleted
            uplink = ["--config-net", "--no-map-gw", "-I", "uplink", "-t", "none", *NO_PORTS]
            run_tool([*space.pasta(), *uplink], env=space.env)
        except NetnsError:
            self._delete(space.name)
            raise
        return space

    def _hold(self, space: NetworkNamespace) -> NetworkNamespace:
        """userns mode: start the holder of a new user + network namespace and wait until
        it is in them (``unshare`` execs ``sleep`` once they are made)."""
        assert self.tools is not None
        argv = [self.tools.unshare, "--user", "--map-current-user", "--net", "sleep", "infinity"]
        holder = _detached(argv, space.env)
        held = NetworkNamespace(space.name, space.tools, holder.pid)
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and holder.poll() is None:
            with contextlib.suppress(OSError):
                if os.readlink(held.path) != own:
                    return held
            time.sleep(0.005)
        holder.kill()
        holder.wait()
        raise NetnsError(f"unshare: the holder of {space.name} did not start")

    def remove(self, network_id: int) -> None:
        """Delete a network's namespace (the network is gone); its pastas quit with it."""
        with self._lock:
            space = self._made.pop(network_id, None)
        if space is not None:
            self._delete(space.name)

    def reconcile(self) -> None:
        """Delete what a previous run of this platform left (its processes are gone, killed
        as strays; each namespace is made again, clean, when first needed), and end its
        pastas, even those whose namespace is already gone. Nothing when they are off."""
        if self.tools is not None:
            _end_watchers(self.prefix, spare=self._watcher)
            sweep(self.prefix, self.tools.ip)

    def close(self) -> None:
        with self._lock:
            names = [space.name for space in self._made.values()]
            self._made.clear()
        for name in names:
            self._delete(name)
        self._unwatch()

    def _delete(self, name: str) -> None:
        assert self.tools is not None
        _delete(self.tools.ip, name)

    def _watch(self) -> None:
        """Start the watcher that sweeps this prefix once this process is gone (see the
        module's doc); once per Namespaces, at its first namespace."""
        assert self.tools is not None
        if self._watcher is not None:
            return
        read_end, write_end = os.pipe()  # not inheritable: no app or pasta holds it
        try:
            self._watcher = _detached(
                [sys.executable, "-c", WATCH, self.prefix, self.tools.ip],
                {"PATH": TOOL_PATH, "PYTHONPATH": os.pathsep.join(filter(None, sys.path))},
                stdin=read_end,
            )
        except OSError:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._watch_end = write_end

    def _unwatch(self) -> None:
        """Closed cleanly: the watcher sweeps (nothing is left by now) and quits."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            os.close(self._watch_end)
            try:
                watcher.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                watcher.kill()
                watcher.wait()


def sweep(prefix: str, ip: str = "") -> None:
    """Delete every namespace named ``prefix…`` (``ip``: root mode) and end every holder
    and pasta of one, even those whose namespace is already gone (a platform's leftovers)."""
    if ip:
        try:
            names = [p.name for p in RUN_NETNS.iterdir() if p.name.startswith(prefix)]
        except OSError:
            names = []
        for name in names:
            _delete(ip, name)
    _end_marked(lambda name: name.startswith(prefix))


def _delete(ip: str, name: str) -> None:
    """Delete the namespace and end its holder, pastas and forwarders (pasta quits by
    itself when its namespace goes, but not if that happens while it is still starting)."""
    if ip:
        try:
            run_tool([ip, "netns", "delete", name])
        except NetnsError as exc:
            log.warning("could not delete network namespace %s: %s", name, exc)
    _end_marked(lambda marked: marked == name)


def _end_watchers(prefix: str, spare: subprocess.Popen[bytes] | None) -> None:
    """Kill a previous run's watcher that has not swept yet, so that it cannot sweep a
    namespace this run makes (``reconcile`` sweeps in its stead)."""
    for proc in psutil.process_iter(["cmdline"]):
        argv = proc.info["cmdline"] or []
        if argv[1:4] == ["-c", WATCH, prefix] and (spare is None or proc.pid != spare.pid):
            with contextlib.suppress(psutil.Error):
                proc.kill()


def _end_marked(serves: Callable[[str], bool]) -> None:
    """Kill the holders and pastas whose ``NETNS_VAR`` ``serves`` accepts. A platform that
    is not root cannot read a pasta's environment (pasta makes itself not dumpable): there
    a pasta is found by its holder, whose namespace it names in its argv (readable)."""
    marked: list[psutil.Process] = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            name = proc.environ().get(NETNS_VAR)
            if name is not None and serves(name):
                marked.append(proc)
    holders = {f"/proc/{proc.pid}/ns/net" for proc in marked}
    for proc in psutil.process_iter(["cmdline"]):
        argv = proc.info["cmdline"] or []
        at = argv.index("--netns") + 1 if "--netns" in argv else len(argv)
        if argv[at : at + 1] and argv[at] in holders:
            marked.append(proc)
    for proc in marked:
        with contextlib.suppress(psutil.Error):
            proc.kill()
