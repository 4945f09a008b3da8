from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from maxlocal.api.deps import PlatformDep

router = APIRouter(tags=["health"])

API_VERSION = "1.0.0"


class HealthOut(BaseModel):
    status: str
    version: str
    platform: str
    runtime: dict[str, object]
    """``{"name": "process", "detail", "outlives_platform": false}``: the runtime driver that
    runs the apps (``maxlocal serve --runtime``, ``runtime.driver``), and whether they keep
    running while the platform restarts."""
    domain: str
    max_upload_bytes: int
    isolation: dict[str, str]
    """``{"mode": "uid+namespaces"|"userns"|"none", "detail": ...}``: what tenant processes
    run in (``runtime.sandbox``)."""
    limits: dict[str, object]
    router: dict[str, str]
    """``{"mode": "haproxy"|"in-process", "detail"}``: what forwards visitors to apps; the
    in-process router is slower and refuses WebSockets (``maxlocal.edge``)."""
    """Per-app resource limits: ``{"mode": "cgroup v1"|"cgroup v2"|"off", "detail",
    "defaults": {"memory", "processes", "cpu"}}``."""


@router.get("/health")
def health(platform: PlatformDep) -> HealthOut:
    driver = platform.runtime.describe()
    return HealthOut(
        status="ok",
        version=API_VERSION,
        platform="maxlocal",
        runtime=driver.runtime(),
        domain=platform.settings.domain,
        max_upload_bytes=platform.settings.max_upload_bytes,
        isolation=driver.isolation,
        limits=driver.limits,
        router=platform.settings.router,
    )
