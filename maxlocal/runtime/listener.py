"""Whose is the listener on an app's port: the router forwards only to a socket that the
app's own process tree opened, never to whoever holds the port.

Another tenant can bind a port the moment it is free (the app crashed and waits for its
restart; a release is still starting) or share it (``SO_REUSEPORT`` under the same uid), and
the router connects by port alone. So the platform checks ownership: the listening sockets
on the port (by inode, from the kernel's sock_diag) must all be open in the app process or its
descendants (``/proc/<pid>/fd``). The check holds with or without the sandbox; a verified
set of sockets is remembered, so a request costs one sock_diag query while the listener
stays the same, and a new socket is checked again. Linux only: elsewhere there is
no ``/proc/net`` and the check says yes (the platform runs there without isolation anyway).
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import psutil

PROC_NET = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
LISTEN = "0A"
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST_DUMP = 0x1 | 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCP_LISTEN = 10
NLMSG_HEADER = struct.Struct("=IHHII")
DIAG_REQUEST = struct.Struct("=BBBBI48x")  # inet_diag_req_v2, its socket id left empty
SPORT_AT, UID_AT, INODE_AT = 4, 64, 68  # in inet_diag_msg: id.idiag_sport (big-endian)
UID_FIELD, INODE_FIELD = 7, 9  # in /proc/net/tcp


def supported() -> bool:
    return PROC_NET[0].exists()


def listening_uids(port: int) -> frozenset[int]:
    """The uids owning the TCP sockets listening on ``port`` (as ``listening_inodes``)."""
    try:
        return _diag_listeners(port, UID_AT)
    except OSError:
        return _proc_listeners(port, field=UID_FIELD)


def listening_inodes(port: int) -> frozenset[int]:
    """The inodes of the TCP sockets listening on ``port``, on any local address (IPv4 and
    IPv6): asked of the kernel by sock_diag netlink, which walks only listening sockets
    (about 0.2 ms); ``/proc/net/tcp*`` when netlink is refused (it walks every socket's
    hash bucket: tens of ms on a large machine)."""
    try:
        return _diag_listeners(port)
    except OSError:
        return _proc_listeners(port)


def _diag_listeners(port: int, at: int = INODE_AT) -> frozenset[int]:
    found: set[int] = set()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as netlink:
        for family in (socket.AF_INET, socket.AF_INET6):
            request = DIAG_REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN)
            header = NLMSG_HEADER.pack(
                NLMSG_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST_DUMP, 1, 0
            )
            netlink.send(header + request)
            while _read_listeners(netlink.recv(1 << 16), port, found, at):
                pass
    return frozenset(found)


def _read_listeners(data: bytes, port: int, found: set[int], at: int = INODE_AT) -> bool:
    """Add the inodes (the field ``at``) of ``data``'s messages listening on ``port``;
    False once it is done."""
    offset = 0
    while offset + NLMSG_HEADER.size <= len(data):
        length, kind, _, _, _ = NLMSG_HEADER.unpack_from(data, offset)
        if kind == NLMSG_DONE:
            return False
        if kind == NLMSG_ERROR or length < NLMSG_HEADER.size:
            raise OSError("sock_diag refused the request")
        body = offset + NLMSG_HEADER.size
        (sport,) = struct.unpack_from(">H", data, body + SPORT_AT)
        if sport == port:
            (inode,) = struct.unpack_from("=I", data, body + at)
            found.add(inode)
        offset += (length + 3) & ~3
    return True


def namespace_listeners(pid: int, port: int) -> frozenset[int]:
    """The inodes of the TCP sockets listening on ``port`` in the network namespace of the
    process ``pid`` (its ``/proc/<pid>/net/tcp*``: a network's own namespace holds only its
    tenants' sockets, so reading the tables is cheap). Nothing while ``pid`` is still in
    the platform's own namespace (it has not joined its network's yet): what listens there
    is the host's, not the app's."""
    if not _elsewhere(pid):
        return frozenset()
    return _proc_listeners(port, tuple(Path(f"/proc/{pid}/net/{t.name}") for t in PROC_NET))


def _proc_listeners(
    port: int, tables: tuple[Path, ...] = PROC_NET, field: int = INODE_FIELD
) -> frozenset[int]:
    found: set[int] = set()
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[3] == LISTEN
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                found.add(int(fields[field]))
    return frozenset(found)


def _elsewhere(pid: int) -> bool:
    """Whether the process ``pid`` is in another network namespace than the platform."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return False


def socket_inodes(pids: list[int]) -> set[int]:
    """The inodes of the sockets these processes have open."""
    inodes: set[int] = set()
    for pid in pids:
        folder = f"/proc/{pid}/fd"
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            try:
                target = os.readlink(f"{folder}/{name}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def process_tree(pid: int) -> list[int]:
    try:
        root = psutil.Process(pid)
        return [pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.Error:
        return []


def _own_hidden(via: int, port: int) -> bool:
    """A platform that is not root may not be able to read its forwarder's fds (one that
    makes itself not dumpable, as pasta does). There, every tenant process is in its
    network's namespace, so what listens on the host's loopback under the platform's uid is
    the platform's own (or the operator's): the listeners must all be of that uid, and the
    forwarder alive."""
    if os.geteuid() == 0 or os.access(f"/proc/{via}/fd", os.R_OK | os.X_OK):
        return False
    return psutil.pid_exists(via) and listening_uids(port) == {os.getuid()}


class PortOwner:
    """Checks that the listener on ``port`` is the one the process ``pid`` (and its
    descendants) opened; remembers the last set of sockets found to be theirs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._verified: tuple[int, frozenset[int]] = (0, frozenset())

    def owned_by(self, pid: int, via: int | None = None) -> bool:
        """With ``via`` (the app runs in its network's namespace, ``runtime.netns``): the
        host's listener on the port must be that forwarder process's, and the listener on
        the port inside the namespace (seen through ``pid``'s ``/proc``) the app's own."""
        if not supported():
            return True
        listeners = listening_inodes(self.port)
        if not listeners:
            return False
        if via is not None:
            if not listeners <= socket_inodes([via]) and not _own_hidden(via, self.port):
                return False
            listeners = namespace_listeners(pid, self.port)
            if not listeners:
                return False
        if self._verified == (pid, listeners):
            return True
        if listeners <= socket_inodes(process_tree(pid)):
            self._verified = (pid, listeners)
            return True
        return False
