"""Every build starts in a cgroup of its own: a group reused across an app's builds kept the
page cache its earlier builds had charged to it (about 5 MiB an ``npm ci``), so that after
enough builds one would start at its memory limit and have to reclaim."""

from __future__ import annotations

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


def test_a_build_starts_in_a_fresh_cgroup(tenant: Tenant, build_platform: Platform) -> None:
    groups = Cgroups.detect(marker_for(build_platform.data_dir))  # the platform's own parent
    assert groups.enabled, groups.detail
    network, app = tenant.new_app("fresh")
    parent = groups.parents["memory" if groups.version == 1 else "unified"]
    group = parent / f"{network}.{app}" / "build"

    # The first build writes a file: its page cache is charged to the build's group.
    tenant.deploy_ok(network, app, {"rig.toml": rig_toml(f"head -c {BLOB_MIB}M /dev/zero > blob")})

    response = tenant.api.upload(network, app, archive({"rig.toml": rig_toml("sleep 4")}))
    assert response.status_code == 202, response.text
    number = response.json()["number"]
    seen: list[int] = []
    deadline = time.monotonic() + RUN_TIMEOUT
    while tenant.api.release(network, app, number)["status"] not in ("active", "failed"):
        if (charged := usage(group, groups.version)) is not None:
            seen.append(charged)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert seen, "the second build's group was never seen"
    assert max(seen) < 16 * MiB, f"the second build started with {max(seen) // MiB} MiB charged"
    assert usage(group, groups.version) is None, "the build's group is left after the build"
