"""``/metrics``: the apps' figures in Prometheus text, read from the runtime on each scrape."""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from maxlocal.api.deps import PlatformDep
from maxlocal.errors import Forbidden
from maxlocal.platform import Platform

router = APIRouter(tags=["metrics"])

LABELS = ["network", "app"]


class AppCollector(Collector):
    def __init__(self, platform: Platform, served: Counter[tuple[str, str]]) -> None:
        self.platform = platform
        self.served = served

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
        for app in self.platform.apps.everything():
            labels = [app.network, app.name]
            figures = self.platform.runtime.status(app)
            up.add_metric(labels, 1.0 if app.state == "running" else 0.0)
            restarts.add_metric(labels, figures.restarts if figures else 0)
            cpu.add_metric(labels, figures.cpu_percent if figures else 0.0)
            memory.add_metric(labels, figures.memory_rss if figures else 0)
            requests.add_metric(labels, self.served.get((app.network, app.name), 0))
        yield from (up, restarts, cpu, memory, requests)


def registry_for(platform: Platform, served: Counter[tuple[str, str]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AppCollector(platform, served))
    return registry


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, platform: PlatformDep) -> Response:
    client = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(client).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise Forbidden("metrics are served to loopback clients only")
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
