"""``/metrics``: the apps' figures in Prometheus text, read from the runtime on each scrape.

Which apps a scrape shows depends on its bearer token: every app for the operator (the
platform's first user, the one ``rig local`` signs in), a tenant's own apps for theirs, and
none without one: the names of networks and apps are their owners' to see, not everyone's on
the machine. A scraper is given one of the operator's API tokens (``POST /api/v1/tokens``,
or ``rig local user add admin@max.local``)."""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from maxlocal.admin import BOOTSTRAP_EMAIL
from maxlocal.api.deps import PlatformDep
from maxlocal.edge.routes import Latency
from maxlocal.errors import Forbidden
from maxlocal.platform import Platform
from maxlocal.store.apps import App
from maxlocal.store.users import User

router = APIRouter(tags=["metrics"])

LABELS = ["network", "app"]


class AppCollector(Collector):
    def __init__(
        self,
        platform: Platform,
        served: Counter[tuple[str, str]],
        apps: Callable[[], list[App]],
        latency: Mapping[tuple[str, str], Latency] | None = None,
    ) -> None:
        self.platform = platform
        self.served = served
        self.apps = apps
        self.latency = latency or {}

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("maxlocal_app_up", "1 when the app is running", labels=LABELS)
        restarts = CounterMetricFamily(
            "maxlocal_app_restarts", "Restarts of the app's processes", labels=LABELS
        )
        cpu = GaugeMetricFamily(
            "maxlocal_app_cpu_percent", "CPU use of the app's processes", labels=LABELS
        )
        memory = GaugeMetricFamily(
            "maxlocal_app_memory_bytes", "Resident memory of the app's processes", labels=LABELS
        )
        requests = CounterMetricFamily(
            "maxlocal_app_requests", "Requests served through the router", labels=LABELS
        )
        durations = HistogramMetricFamily(
            "maxlocal_app_request_duration_seconds",
            "Routed requests' time from head received to answer sent (HAProxy edge only)",
            labels=LABELS,
        )
        for app in self.apps():
            labels = [app.network, app.name]
            figures = self.platform.runtime.status(app)
            up.add_metric(labels, 1.0 if app.state == "running" else 0.0)
            restarts.add_metric(labels, figures.restarts if figures else 0)
            cpu.add_metric(labels, figures.cpu_percent if figures else 0.0)
            memory.add_metric(labels, figures.memory_rss if figures else 0)
            requests.add_metric(labels, self.served.get((app.network, app.name), 0))
            latency = self.latency.get((app.network, app.name)) or Latency()
            durations.add_metric(labels, latency.cumulative(), latency.total)
        yield from (up, restarts, cpu, memory, requests, durations)


@dataclass(frozen=True)
class Metrics:
    """What a scrape reads: the platform, and the requests the router counted and timed per
    app."""

    platform: Platform
    served: Counter[tuple[str, str]]
    latency: Mapping[tuple[str, str], Latency] = field(default_factory=dict)

    def render(self, viewer: User | None) -> bytes:
        """The figures of the apps ``viewer`` may see (see the module's docstring)."""
        apps = self.platform.apps
        if viewer is None:
            visible: Callable[[], list[App]] = list
        elif viewer.email == BOOTSTRAP_EMAIL:
            visible = apps.everything
        else:
            visible = lambda: apps.find(viewer.id)  # noqa: E731
        registry = CollectorRegistry(auto_describe=False)
        registry.register(AppCollector(self.platform, self.served, visible, self.latency))
        return generate_latest(registry)


_bearer = HTTPBearer(auto_error=False)


@router.get("/metrics", include_in_schema=False)
def metrics(
    request: Request,
    platform: PlatformDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    client = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(client).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise Forbidden("metrics are served to loopback clients only")
    viewer = platform.auth.authenticate(credentials.credentials) if credentials else None
    source: Metrics = request.app.state.metrics
    return Response(source.render(viewer), media_type=CONTENT_TYPE_LATEST)
