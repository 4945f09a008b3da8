"""What a tenant's network may still reach (``runtime.netns``): the apps of its own network
(from another app's process and from a network session, straight to the port on loopback,
not through the router) and the internet (the package registries). What it may not reach
(another network's app, the platform's API, a server on the host's loopback) is in
``test_attacks`` (``reach-*``), refused with the sandbox, working without it.
"""

from __future__ import annotations

import shlex

import httpx
import pytest

from tests.isolation.world import BOB_APP, BOB_NET, BOB_PROCFILE, PYTHON, World, attacker_source

SECOND_APP = "tools2"
FETCH = (
    "import sys, urllib.request\n"
    "with urllib.request.urlopen(sys.argv[1], timeout=20) as r:\n"
    "    print('FETCHED', r.status, r.read(200).decode(errors='replace'))\n"
)


def bob_port(world: World) -> int:
    status = world.bob_api.status(BOB_NET, BOB_APP)
    return int(next(p for p in status["processes"] if p["name"] == "web")["port"])


def fetch(world: World, url: str, *where: str) -> str:
    """Run a GET of ``url`` as bob in ``where`` (an exec session); what it printed."""
    run = world.bob("command", f"{PYTHON} -c {shlex.quote(FETCH)} {shlex.quote(url)}", *where)
    assert run.code == 0, str(run)
    return run.out


def test_a_second_app_of_the_network_reaches_the_first(world: World) -> None:
    made = world.bob_api.http.post(f"/networks/{BOB_NET}/apps", json={"name": SECOND_APP})
    assert made.is_success, made.text
    source = attacker_source(world.targets, procfile=BOB_PROCFILE, build=None)
    deployed = world.bob_api.deploy(BOB_NET, SECOND_APP, source)
    assert deployed["status"] == "active", deployed
    out = fetch(world, f"http://127.0.0.1:{bob_port(world)}/", "--app", SECOND_APP)
    assert "FETCHED 200 bob's page" in out, out


def test_a_network_session_reaches_its_networks_app(world: World) -> None:
    out = fetch(world, f"http://127.0.0.1:{bob_port(world)}/", "--network", BOB_NET)
    assert "FETCHED 200 bob's page" in out, out


@pytest.mark.network
def test_an_app_reaches_the_package_registry(world: World) -> None:
    out = fetch(world, "https://pypi.org/simple/pip/", *world.bob_target)
    assert "FETCHED 200" in out, out


def test_the_platform_says_how_networks_are_kept_apart(world: World) -> None:
    health = httpx.get(f"{world.platform.url}/api/v1/health", timeout=30, trust_env=False)
    isolation = health.json()["isolation"]
    if world.mode == "none":
        assert isolation["mode"] == "none", isolation
    else:
        assert isolation["detail"].endswith("; a network namespace per network (pasta)")
