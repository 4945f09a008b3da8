"""The route table: app → its verified upstreams, the one thing both forwarders read.

An upstream is routed only once the platform has verified that the listener on its port is
the app's own process tree (``Runtime.resolve``, built on ``runtime.listener``), so a
visitor never reaches a port another tenant took. Verification runs

- at once (in the driver's thread) whenever an app's state changes: a release became
  healthy, a switch, a crash, a stop. A crashed web process loses its route before anyone
  can bind its freed port, since the supervisor reports the exit the moment it happens;
- every ``INTERVAL`` seconds for every serving app, which bounds how long a listener that
  joins a verified port later (``SO_REUSEPORT`` under the app's own uid, or a process the
  app started) can be served: one check costs a sock_diag query (~0.2 ms), so 0.5 s keeps
  a hundred apps under 5 % of a core.

The table is app key (``"shop/api"``) → a tuple of upstreams, one per verified web instance
(``rig scale``); HAProxy balances over them by least connections, the in-process router
round-robin, and both try another instance when one refuses the connection. An instance
that dies or stops answering on its port leaves the tuple at the next check (at once for a
death: the table's state listener runs first of the runtime's, see ``server.build_app``).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from maxlocal.runtime.router import Unavailable

log = logging.getLogger("maxlocal")

INTERVAL = 0.5
LOOPBACK = "127.0.0.1"
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0)
"""Upper bounds (seconds) of ``/metrics``' request duration histogram."""


@dataclass
class Latency:
    """Routed requests' durations (head received to answer sent, ``haproxy.LOG_FIELDS``) for
    one app: counts per bucket of ``LATENCY_BUCKETS`` (the last, past them all: +Inf) and sum."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus' buckets: (upper bound, requests at most that long)."""
        bounds = [*(f"{b:g}" for b in LATENCY_BUCKETS), "+Inf"]
        return list(zip(bounds, itertools.accumulate(self.counts), strict=True))


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int
    instance: str = "web.1"
    """Which of the app's web processes listens there (access lines name it)."""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


Routes = Mapping[str, tuple[Upstream, ...]]
"""App key → its verified upstreams; an app without one is absent."""


class Source(Protocol):
    """What the table needs of the runtime (``deploys.Runtime``)."""

    def serving(self) -> list[str]: ...
    def resolve(self, network: str, name: str) -> tuple[tuple[str, int], ...] | Unavailable: ...
    def note(self, app: str, line: str) -> None: ...


def host_of(key: str) -> str:
    """``shop/api`` → ``api.shop.localhost``: the name visitors use."""
    network, name = key.split("/", 1)
    return f"{name}.{network}.localhost"


class RouteTable:
    """Keeps ``routes`` true to the runtime; tells ``listeners`` each changed table."""

    def __init__(self, source: Source, *, interval: float = INTERVAL) -> None:
        self.source = source
        self.interval = interval
        self.listeners: list[Callable[[Routes], None]] = []
        self.served: Counter[tuple[str, str]] = Counter()
        """Requests forwarded per (network, app), for ``/metrics``."""
        self.latency: defaultdict[tuple[str, str], Latency] = defaultdict(Latency)
        """Their durations per (network, app), for ``/metrics`` (HAProxy's access lines)."""
        self._routes: dict[str, tuple[Upstream, ...]] = {}
        self._why: dict[str, str] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._turns = itertools.count()  # round-robin for the in-process router

    @property
    def routes(self) -> Routes:
        return dict(self._routes)

    def resolve(self, network: str, name: str) -> tuple[int, ...] | Unavailable:
        """For the in-process router: the verified ports, each request starting at the next
        (round-robin; the rest are tried if it refuses), else ``Unavailable`` (a visitor is
        answered the same whatever the reason, so the reason here is not looked up)."""
        upstreams = self._routes.get(f"{network}/{name}")
        if upstreams:
            turn = next(self._turns) % len(upstreams)
            return tuple(u.port for u in upstreams[turn:] + upstreams[:turn])
        return Unavailable(503, "no verified route")

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="route-table", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def on_state(self, app: str, state: str, details: dict[str, Any]) -> None:
        """A ``Runtime.state_listeners`` hook: re-verify the app at once."""
        self.refresh([app])

    def refresh(self, apps: list[str] | None = None) -> None:
        """Verify ``apps`` (every serving app when None) and apply what changed."""
        with self._lock:
            routes = dict(self._routes)
            serving = set(self.source.serving())
            for key in apps if apps is not None else sorted(serving | set(routes)):
                upstreams = self._verify(key) if key in serving else ()
                if upstreams:
                    routes[key] = upstreams
                else:
                    routes.pop(key, None)
            if routes == self._routes:
                return
            self._routes = routes
            for listener in list(self.listeners):
                try:
                    listener(dict(routes))
                except Exception:
                    log.exception("route table listener failed")

    def _verify(self, key: str) -> tuple[Upstream, ...]:
        network, name = key.split("/", 1)
        found = self.source.resolve(network, name)
        if not isinstance(found, Unavailable):
            self._why.pop(key, None)
            return tuple(Upstream(LOOPBACK, port, instance) for instance, port in found)
        if self._why.get(key) != found.message:  # once per reason, not per check
            self._why[key] = found.message
            self.source.note(key, f"router: not forwarding visitors: {found.message}")
        return ()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception:
                log.exception("route table refresh failed")
