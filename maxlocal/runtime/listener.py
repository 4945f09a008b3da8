"""Whose is the listener on an app's port: the router forwards only to a socket that the
app's own process tree opened, never to whoever holds the port.

Another tenant can bind a port the moment it is free (the app crashed and waits for its
restart; a release is still starting) or share it (``SO_REUSEPORT`` under the same uid), and
the router connects by port alone. So the platform checks ownership: the listening sockets
on the port (``/proc/net/tcp*``, by inode) must all be open in the app process or its
descendants (``/proc/<pid>/fd``). The check holds with or without the sandbox; a verified
set of sockets is remembered, so a request costs one read of ``/proc/net/tcp`` while the
listener stays the same, and a new socket is checked again. Linux only: elsewhere there is
no ``/proc/net`` and the check says yes (the platform runs there without isolation anyway).
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

PROC_NET = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
LISTEN = "0A"


def supported() -> bool:
    return PROC_NET[0].exists()


def listening_inodes(port: int) -> frozenset[int]:
    """The inodes of the sockets listening on ``port``, on any local address."""
    found: set[int] = set()
    for table in PROC_NET:
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
                found.add(int(fields[9]))
    return frozenset(found)


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


class PortOwner:
    """Checks that the listener on ``port`` is the one the process ``pid`` (and its
    descendants) opened; remembers the last set of sockets found to be theirs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._verified: tuple[int, frozenset[int]] = (0, frozenset())

    def owned_by(self, pid: int) -> bool:
        if not supported():
            return True
        listeners = listening_inodes(self.port)
        if not listeners:
            return False
        if self._verified == (pid, listeners):
            return True
        if listeners <= socket_inodes(process_tree(pid)):
            self._verified = (pid, listeners)
            return True
        return False
