"""A platform that crashes (SIGKILL) does not leave its network namespaces and their pastas
on the machine until its next start: its watcher (``runtime.netns``) sweeps them within
moments of the death. The app it ran is a stray until the next start, as before
(``strays``), but without a network namespace bound under /run/netns or a pasta."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from maxlocal.runtime.netns import Namespaces
from maxlocal.strays import marker_for, stray_groups
from tests.deploy.conftest import new_api, web_app
from tests.support.platform import PlatformFactory


def leftovers(prefix: str) -> tuple[list[str], list[int]]:
    """The namespaces named ``prefix…`` and the pids of the pastas serving one."""
    names = [p.name for p in Path("/run/netns").iterdir() if p.name.startswith(prefix)]
    pastas = []
    for proc in psutil.process_iter(["cmdline"]):
        argv = proc.info["cmdline"] or []
        if "--netns" in argv and f"/run/netns/{prefix}" in " ".join(argv):
            pastas.append(proc.pid)
    return names, pastas


def test_a_killed_platform_leaves_no_network_namespace_and_no_pasta(
    platform_factory: PlatformFactory,
) -> None:
    platform = platform_factory()
    assert "a network namespace per network" in platform.isolation["detail"]
    api = new_api(platform)
    network, app = api.new_app()
    api.deploy(network, app, web_app("v1"))
    prefix = Namespaces.choose(platform.data_dir, False).prefix
    names, pastas = leftovers(prefix)
    assert len(names) == 1 and len(pastas) == 2  # the network's uplink and the app's forwarder
    strays = stray_groups(marker_for(platform.data_dir))

    assert platform.process is not None
    platform.process.kill()
    platform.process.wait()

    deadline = time.monotonic() + 10
    while leftovers(prefix) != ([], []) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers(prefix) == ([], [])
    # the app itself is left for the next start's stray sweep, as without namespaces
    assert stray_groups(marker_for(platform.data_dir)) == strays
