"""Bob tries to exhaust the machine from his exec session: memory beyond his app's limit, and
more processes than it may have. Without the sandbox (and without limits) he gets them all;
with them the cgroup of his session stops him, and alice's app serves on.

Depends on iso-limits' cgroups (``--limits auto|off``, defaults of 512 MiB and 256 processes
an app): until that branch is merged, its platforms cannot start (no ``--limits``).
"""

from __future__ import annotations

import re

from tests.isolation.world import ALICE_APP, ALICE_NET, ALICE_PAGE, LIMITS, PYTHON, World

WORLD_OPTIONS = {mode: {"limits": limits} for mode, limits in LIMITS.items()}
"""Without the sandbox, without limits (``--limits off``): the attack must work there."""
MEMORY_MIB = 1024  # twice the default limit of an app
PROCESSES = 400  # beyond the default limit of 256 an app


def alice_serves(world: World) -> bool:
    import httpx

    response = httpx.get(
        f"http://127.0.0.1:{world.platform.port}/",
        headers={"Host": f"{ALICE_APP}.{ALICE_NET}.localhost:{world.platform.port}"},
        timeout=10,
        trust_env=False,
    )
    return response.text == ALICE_PAGE


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
    found = re.search(r"PROCESSES (\d+)", run.out)
    assert found, str(run)
    started = int(found.group(1))
    if world.mode == "none":
        assert started == PROCESSES, str(run)
    else:
        assert started < PROCESSES, str(run)
    assert alice_serves(world)
