"""``runtime.netns``: a real network namespace per network (as root, with ip and pasta),
joined by a real process, with a real forwarder (``runtime.inbound``) from the host's
loopback into it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from maxlocal.runtime import netns
from maxlocal.runtime.listener import PortOwner, listening_inodes, namespace_listeners
from maxlocal.runtime.netns import Namespaces, NetworkNamespace
from maxlocal.runtime.supervisor import free_port
from tests.support import nobody

SERVE = (
    "import socket, sys\n"
    "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
    "print('listening', flush=True)\n"
    "while True:\n"
    "    c, _ = s.accept(); c.sendall(b'inside'); c.close()\n"
)
CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    print(socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3).recv(20))\n"
    "except OSError as e:\n"
    "    print('refused', type(e).__name__)\n"
)


def run_in(space: NetworkNamespace, code: str, *args: str) -> str:
    argv = [*space.enter(), sys.executable, "-c", code, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout


def serve_in(space: NetworkNamespace, port: int) -> subprocess.Popen[str]:
    argv = [*space.enter(), sys.executable, "-c", SERVE, str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "listening\n"
    return proc


def answer(port: int, timeout: float = 10) -> bytes:
    """What the host's ``127.0.0.1:port`` answers, once the forwarder is up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                got = sock.recv(20)
            if got or time.monotonic() > deadline:
                return got
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.02)


def test_a_joined_process_is_in_the_networks_own_namespace(spaces: Namespaces) -> None:
    space = spaces.get(1)
    assert space is not None and space.path.exists()
    assert spaces.get(1) == space  # made once, shared by the network's processes
    inside = run_in(space, "import os; print(os.stat('/proc/self/ns/net').st_ino)")
    assert int(inside) != os.stat("/proc/self/ns/net").st_ino
    assert int(inside) == space.path.stat().st_ino


def test_the_host_loopback_is_out_of_reach_and_networks_apart(spaces: Namespaces) -> None:
    one, two = spaces.get(1), spaces.get(2)
    assert one is not None and two is not None
    with socket.socket() as host:
        host.bind(("127.0.0.1", 0))
        host.listen()
        port = host.getsockname()[1]
        assert "refused" in run_in(one, CONNECT, str(port))
    app_port = free_port()
    server = serve_in(one, app_port)
    try:
        assert "inside" in run_in(one, CONNECT, str(app_port))  # the network's own apps
        assert "refused" in run_in(two, CONNECT, str(app_port))  # not another network
    finally:
        server.kill()
        server.wait()


def test_the_forwarder_brings_the_host_port_to_the_app_and_the_check_sees_both_ends(
    spaces: Namespaces,
) -> None:
    space = spaces.get(1)
    assert space is not None
    port = free_port()
    forwarder = space.forward(port)
    server = serve_in(space, port)
    try:
        assert answer(port) == b"inside"
        assert namespace_listeners(server.pid, port)
        assert PortOwner(port).owned_by(server.pid, via=forwarder.pid)
        assert not PortOwner(port).owned_by(server.pid, via=os.getpid())  # not the forwarder
        assert not PortOwner(port).owned_by(forwarder.pid, via=forwarder.pid)  # not the app
    finally:
        server.kill()
        server.wait()
        forwarder.stop()


def test_closing_deletes_the_namespaces_and_ends_their_forwarders(tmp_path: Path) -> None:
    spaces = Namespaces.choose(tmp_path, True)
    space = spaces.get(7)
    assert space is not None
    port = free_port()
    forwarder = space.forward(port)
    try:
        deadline = time.monotonic() + 10
        while not listening_inodes(port) and time.monotonic() < deadline:
            time.sleep(0.02)  # until it is up (listening on the host)
        spaces.close()
        assert not space.path.exists()
        forwarder.popen.wait(timeout=10)  # ended with its namespace
    finally:
        forwarder.stop()
    assert not [p for p in Path("/run/netns").iterdir() if p.name.startswith(spaces.prefix)]


def test_a_restart_deletes_what_the_previous_run_left(tmp_path: Path) -> None:
    left = Namespaces.choose(tmp_path, True).get(3)  # a platform that died: never closed
    assert left is not None and left.path.exists()
    again = Namespaces.choose(tmp_path, True)
    again.reconcile()
    assert not left.path.exists()
    assert again.get(3) is not None and left.path.exists()  # made again, clean, when needed
    again.close()


def test_without_isolation_tenants_share_the_hosts_namespace(tmp_path: Path) -> None:
    off = Namespaces.choose(tmp_path, False)
    assert not off.active and off.get(1) is None
    off.reconcile()  # a platform's start and stop with them off: nothing to do
    off.close()
    assert off.describe() == "one shared network namespace (isolation is off)"


def test_a_platform_that_is_not_root_says_its_tenants_share_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(netns, "TUN", str(tmp_path / "no-tun"))
    userns = Namespaces.choose(tmp_path, True)
    assert not userns.active and userns.get(1) is None
    assert userns.describe() == (
        "one shared network namespace (userns mode: pasta cannot open "
        f"{tmp_path / 'no-tun'} (No such file or directory; it is root's here))"
    )


def test_not_root_each_network_has_a_holder_of_its_own_user_and_network_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    spaces = Namespaces.choose(tmp_path, True)
    assert spaces.describe() == "a network namespace per network (pasta, in a user namespace)"
    space = spaces.get(2)
    assert space is not None and space.holder
    held = [os.readlink(f"/proc/{space.holder}/ns/{kind}") for kind in ("user", "net")]
    assert held != [os.readlink(f"/proc/self/ns/{kind}") for kind in ("user", "net")]
    code = "import os; print(os.readlink('/proc/self/ns/user'), os.readlink('/proc/self/ns/net'))"
    assert run_in(space, code).split() == held
    holder = psutil.Process(space.holder)
    spaces.close()
    assert holder.wait(timeout=10) is not None or not holder.is_running()


def test_a_restart_ends_the_pastas_the_previous_run_left(tmp_path: Path) -> None:
    died = Namespaces.choose(tmp_path, True)  # a platform that died: never closed
    space = died.get(4)
    assert space is not None
    forwarder = space.forward(free_port())
    try:
        again = Namespaces.choose(tmp_path, True)
        again.reconcile()
        assert forwarder.popen.wait(timeout=10) is not None
        serving = [p.info["cmdline"] or [] for p in psutil.process_iter(["cmdline"])]
        assert not [argv for argv in serving if str(space.path) in argv]
    finally:
        forwarder.stop()


DIES = (
    "import os, sys\n"
    "from pathlib import Path\n"
    "from maxlocal.runtime.netns import Namespaces\n"
    "if sys.argv[3] == 'userns':\n"
    "    os.geteuid = lambda: 1000  # a holder, as a platform that is not root makes\n"
    "space = Namespaces.choose(Path(sys.argv[1]), True).get(6)\n"
    "space.forward(int(sys.argv[2]))\n"
    "print(space.name, flush=True)\n"
    "sys.stdin.read()\n"
)


def leftovers(prefix: str) -> tuple[list[str], list[int]]:
    """The namespaces named ``prefix…`` and the holders and pastas of one."""
    names = [p.name for p in Path("/run/netns").iterdir() if p.name.startswith(prefix)]
    marked = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(netns.NETNS_VAR, "").startswith(prefix):
                marked.append(proc.pid)
    return names, marked


@pytest.mark.parametrize("mode", ["root", "userns"])
def test_a_process_killed_outright_leaves_no_namespace_and_no_pasta(
    mode: str, tmp_path: Path
) -> None:
    port = free_port()
    died = subprocess.Popen(
        [sys.executable, "-c", DIES, str(tmp_path), str(port), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert died.stdout is not None
    name = died.stdout.readline().strip()
    prefix = Namespaces.choose(tmp_path, True).prefix
    assert name.startswith(prefix)
    assert (Path("/run/netns") / name).exists() == (mode == "root")
    deadline = time.monotonic() + 10
    while not listening_inodes(port) and time.monotonic() < deadline:
        time.sleep(0.02)  # the forwarder is up: there to be left
    assert leftovers(prefix)[1]

    died.kill()  # as a crash: no close, no reconcile
    died.wait()

    deadline = time.monotonic() + 10  # its watcher sweeps within moments (a killed pasta
    # may hold its port a moment after it no longer shows as marked: wait for both)
    while (leftovers(prefix) != ([], []) or listening_inodes(port)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers(prefix) == ([], [])
    assert not listening_inodes(port)


HIDDEN = (  # a forwarder as pasta is: listening on the host, its fds not readable (not dumpable)
    "import ctypes, socket, sys\n"
    "ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0\n"
    "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
    "print('listening', flush=True); sys.stdin.read()\n"
)
CHECK = (  # the platform's check, as the platform that is not root makes it
    "import sys\n"
    "from maxlocal.runtime.listener import PortOwner\n"
    "port, pid, via = map(int, sys.argv[1:])\n"
    "print(PortOwner(port).owned_by(pid, via=via))\n"
)


def as_nobody(code: str, *args: str, **popen: object) -> subprocess.Popen[str]:
    """``code`` run by user nobody, with this checkout's maxlocal and psutil importable."""
    site = Path(psutil.__file__).parents[1]
    paths = f"{nobody.seen(Path(netns.__file__).parents[2])}:{nobody.seen(site)}"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": paths}
    argv = nobody.as_nobody(["/usr/bin/python3", "-c", code, *args])
    return subprocess.Popen(argv, env=env, text=True, **popen)  # type: ignore[call-overload]


@pytest.mark.parametrize("holder", ["platform", "root"])
def test_not_root_the_check_wants_the_hosts_listener_of_the_platforms_uid(
    holder: str, tmp_path: Path
) -> None:
    """The forwarder's fds are not readable to a platform that is not root: the host's
    listener must then be of its uid. One of root's (another user's) is refused."""
    port = free_port()
    app_argv = [*nobody.SETPRIV, "unshare", "--user", "--map-root-user", "--net", "sh", "-c"]
    app_argv += [f'ip link set lo up && exec /usr/bin/python3 -c "$0" {port}', SERVE]
    app = subprocess.Popen(app_argv, stdout=subprocess.PIPE, text=True)
    forwarder = as_nobody(HIDDEN, str(port), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    taken: socket.socket | None = None
    try:
        assert app.stdout is not None and app.stdout.readline() == "listening\n"
        assert forwarder.stdout is not None and forwarder.stdout.readline() == "listening\n"
        if holder == "root":  # the forwarder lets go; another uid's listener takes the port
            forwarder.stdin.close()  # type: ignore[union-attr]
            forwarder.wait(timeout=10)
            forwarder = as_nobody(
                HIDDEN, str(free_port()), stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            assert forwarder.stdout is not None and forwarder.stdout.readline() == "listening\n"
            taken = socket.socket()
            taken.bind(("127.0.0.1", port))
            taken.listen()
        check = as_nobody(
            CHECK, str(port), str(app.pid), str(forwarder.pid), stdout=subprocess.PIPE
        )
        out, _ = check.communicate(timeout=30)
        assert out.strip() == ("True" if holder == "platform" else "False")
    finally:
        if taken is not None:
            taken.close()
        for proc in (app, forwarder):
            proc.kill()
            proc.wait()
