"""Bob tries to exhaust the machine from his exec session, his app's process and his build:
memory beyond his app's limit, and more processes than it may have. Without the sandbox (and
without limits) he gets them all; with them his cgroup stops him, and alice's app serves on.

Depends on iso-limits' cgroups (``--limits auto|off``, defaults of 512 MiB and 256 processes
an app): until that branch is merged, its platforms cannot start (no ``--limits``).
"""

from __future__ import annotations

import re

from tests.deploy.conftest import routed
from tests.isolation.world import (
    ALICE_APP,
    ALICE_NET,
    ALICE_PAGE,
    BOB_APP,
    BOB_NET,
    BOB_PROCFILE,
    LIMITS,
    PYTHON,
    World,
    attacker_source,
)

WORLD_OPTIONS = {mode: {"limits": limits} for mode, limits in LIMITS.items()}
"""Without the sandbox, without limits (``--limits off``): the attack must work there."""
MEMORY_MIB = 1024  # twice the default limit of an app
PROCESSES = 400  # beyond the default limit of 256 an app


def alice_serves(world: World) -> bool:
    return routed(world.platform, ALICE_NET, ALICE_APP).text == ALICE_PAGE


def started(output: str) -> int:
    found = re.search(r"PROCESSES (\d+)", output)
    assert found, output
    return int(found.group(1))


def test_bob_cannot_take_all_the_memory(world: World) -> None:
    run = world.command(f"{PYTHON} attack.py memory {MEMORY_MIB}")
    held = f"MEMORY held {MEMORY_MIB}" in run.out
    if world.mode == "none":
        assert held and run.code == 0, str(run)
    else:
        assert not held and run.code != 0, str(run)
    assert alice_serves(world)


def test_bob_cannot_start_processes_without_end(world: World) -> None:
    run = world.command(f"{PYTHON} attack.py processes {PROCESSES}")
    if world.mode == "none":
        assert started(run.out) == PROCESSES, str(run)
    else:
        assert started(run.out) < PROCESSES, str(run)
    assert alice_serves(world)


def test_bob_s_app_cannot_take_all_the_memory(world: World) -> None:
    response = routed(world.platform, BOB_NET, BOB_APP, f"/memory/{MEMORY_MIB}")
    held = (response.status_code, response.text) == (200, f"MEMORY held {MEMORY_MIB}")
    assert held if world.mode == "none" else not held, (response.status_code, response.text)
    assert alice_serves(world)


def test_bob_s_build_cannot_start_processes_without_end(world: World) -> None:
    api = world.bob_api
    assert api.http.post(f"/networks/{BOB_NET}/apps", json={"name": "forker"}).is_success
    source = attacker_source({}, procfile=BOB_PROCFILE, build=f"processes {PROCESSES}")
    api.deploy(BOB_NET, "forker", source)
    build = "\n".join(str(r["line"]) for r in api.logs(BOB_NET, "forker", "build"))
    if world.mode == "none":
        assert started(build) == PROCESSES, build
    else:
        assert started(build) < PROCESSES, build
    assert alice_serves(world)
