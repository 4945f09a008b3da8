"""Which HAProxy backend serves each routed app, and which servers (instances) are in it.

HAProxy 2.6 cannot add a backend at run time, so its configuration declares a pool of them
(``slots``) and the map names each app's; it can add and remove servers (``add server``,
``del server``), one per verified instance. This module keeps that bookkeeping and says which
runtime API commands make HAProxy match a new route table; ``Edge`` sends them.

A withdrawn instance is put in maintenance at once (no new request reaches it; a request
that finds it dead is retried elsewhere) and deleted once HAProxy has no connection to it
left (``del server`` refuses before), which ``sweep`` retries. A slot returns to the pool
when its app has no route and its last server is deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from maxlocal.edge.routes import Routes, Upstream, host_of

log = logging.getLogger("maxlocal")


def server_name(upstream: Upstream) -> str:
    """An instance's server: its name and port (a relaunched instance listens on a new port
    while the old server drains); ``instance_of`` gives the instance back."""
    return f"{upstream.instance}-{upstream.port}"


def instance_of(server: str) -> str:
    """``web.2-41234`` → ``web.2`` (``-`` when HAProxy picked none, ``<NOSRV>``)."""
    return server.rsplit("-", 1)[0] if "-" in server else "-"


@dataclass
class Pool:
    slots: Sequence[str]
    slot_of: dict[str, str] = field(default_factory=dict)
    """App key → its backend."""
    live: dict[str, dict[str, str]] = field(default_factory=dict)
    """Backend → server → address: the servers taking requests."""
    draining: dict[str, set[str]] = field(default_factory=dict)
    """Backend → servers in maintenance, to delete once idle."""
    _full: bool = False

    def apply(self, routes: Routes) -> list[str]:
        """The commands that make HAProxy's servers ``routes`` (map changes apart)."""
        commands: list[str] = []
        for key, upstreams in sorted(routes.items()):
            slot = self.slot_of.get(key) or self._free()
            if slot is None:
                if not self._full:
                    log.error(
                        "router: all %d app backends in use; %s not routed", len(self.slots), key
                    )
                self._full = True
                continue
            self.slot_of[key] = slot
            commands += self._servers(slot, {server_name(u): u.address for u in upstreams})
        for key in [k for k in self.slot_of if not routes.get(k)]:
            commands += self._servers(self.slot_of.pop(key), {})
        return commands

    def hosts(self) -> dict[str, str]:
        """The map: host name (with and without a trailing dot) → the app's backend."""
        entries: dict[str, str] = {}
        for key, slot in self.slot_of.items():
            if self.live.get(slot):
                entries[host_of(key)] = entries[host_of(key) + "."] = slot
        return entries

    def sweep(self, command: Callable[[str], str]) -> None:
        """Delete the draining servers HAProxy no longer holds connections to."""
        for slot, names in self.draining.items():
            for name in sorted(names):
                if "deleted" in command(f"del server {slot}/{name}"):
                    names.discard(name)

    def restarted(self) -> list[str]:
        """A new HAProxy has no servers: the commands that add the live ones again."""
        self.draining.clear()
        return [
            cmd
            for slot, servers in self.live.items()
            for name, address in servers.items()
            for cmd in _add(slot, name, address)
        ]

    def _free(self) -> str | None:
        used = set(self.slot_of.values())
        for slot in self.slots:
            if slot not in used and not self.live.get(slot) and not self.draining.get(slot):
                self._full = False
                return slot
        return None

    def _servers(self, slot: str, want: dict[str, str]) -> list[str]:
        live = self.live.setdefault(slot, {})
        draining = self.draining.setdefault(slot, set())
        commands: list[str] = []
        for name, address in want.items():
            if name in live:
                continue
            if name in draining:
                draining.discard(name)
                commands.append(f"set server {slot}/{name} state ready")
            else:
                commands += _add(slot, name, address)
            live[name] = address
        for name in [n for n in live if n not in want]:
            del live[name]
            draining.add(name)
            commands.append(f"set server {slot}/{name} state maint")
        return commands


def _add(slot: str, name: str, address: str) -> list[str]:
    """A server is added in maintenance; it takes requests once enabled."""
    return [f"add server {slot}/{name} {address}", f"enable server {slot}/{name}"]
