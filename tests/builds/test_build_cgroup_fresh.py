"""Every build starts in a cgroup of its own: a group reused across an app's builds kept the
page cache its earlier builds had charged to it (about 5 MiB an ``npm ci``), so that after
enough builds one would start at its memory limit and have to reclaim."""

from __future__ import annotations

import os
import time
from pathlib import Path

from maxlocal.runtime.cgroups import Cgroups
from maxlocal.strays import marker_for
from tests.builds.conftest import RUN_TIMEOUT, Tenant
from tests.deploy.conftest import archive
from tests.support.platform import Platform

BLOB_MIB = 48
MiB = 1024 * 1024


def rig_toml(build: str) -> str:
    return f'builder = "none"\nbuild = "{build}"\n[processes]\nworker = "sleep 600"\n'


def usage(group: Path, version: int) -> int | None:
    """The group's charged memory in bytes; None while it does not exist."""
    try:
        name = "memory.usage_in_bytes" if version == 1 else "memory.current"
        return int((group / name).read_text())
    except (OSError, ValueError):
        return None


def cpu_quota(group: Path, version: int) -> float | None:
    """The group's CPU quota in CPUs (None: none, or the group does not exist)."""
    try:
        if version == 1:
            quota = int((group / "cpu.cfs_quota_us").read_text())
            period = int((group / "cpu.cfs_period_us").read_text())
        else:
            text, period_text = (group / "cpu.max").read_text().split()
            quota, period = (-1 if text == "max" else int(text)), int(period_text)
    except (OSError, ValueError):
        return None
    return None if quota < 0 else quota / period


def test_a_build_starts_in_a_fresh_cgroup(tenant: Tenant, build_platform: Platform) -> None:
    groups = Cgroups.detect(marker_for(build_platform.data_dir))  # the platform's own parent
    assert groups.enabled, groups.detail
    network, app = tenant.new_app("fresh")
    parent = groups.parents["memory" if groups.version == 1 else "unified"]
    group = parent / f"{network}.{app}" / "build"
    cpu_parent = groups.parents["cpu" if groups.version == 1 else "unified"]
    cpu_group = cpu_parent / f"{network}.{app}" / "build"

    # The first build writes a file: its page cache is charged to the build's group.
    tenant.deploy_ok(network, app, {"rig.toml": rig_toml(f"head -c {BLOB_MIB}M /dev/zero > blob")})

    response = tenant.api.upload(network, app, archive({"rig.toml": rig_toml("sleep 4")}))
    assert response.status_code == 202, response.text
    number = response.json()["number"]
    seen: list[int] = []
    quotas: list[float] = []
    deadline = time.monotonic() + RUN_TIMEOUT
    while tenant.api.release(network, app, number)["status"] not in ("active", "failed"):
        if (charged := usage(group, groups.version)) is not None:
            seen.append(charged)
        if (cpus := cpu_quota(cpu_group, groups.version)) is not None:
            quotas.append(cpus)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert seen, "the second build's group was never seen"
    # a build may use the machine's CPUs, not the app's run-time 1 CPU (cgroups.for_build)
    assert quotas and min(quotas) == float(os.cpu_count() or 1), quotas
    assert max(seen) < 16 * MiB, f"the second build started with {max(seen) // MiB} MiB charged"
    assert usage(group, groups.version) is None, "the build's group is left after the build"
