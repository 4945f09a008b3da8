"""A platform that crashes (SIGKILL) does not leave its network namespaces, their pastas and
forwarders on the machine until its next start: its watcher (``runtime.netns``) sweeps them
within moments of the death. The app it ran is a stray until the next start, as before
(``strays``), but without a network namespace bound under /run/netns, a pasta or a
forwarder."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import psutil

from maxlocal.runtime.netns import NETNS_VAR, Namespaces
from maxlocal.strays import marker_for, stray_groups
from tests.deploy.conftest import new_api, web_app
from tests.support.platform import PlatformFactory


def leftovers(prefix: str) -> tuple[list[str], list[str]]:
    """The namespaces named ``prefix…`` and the processes serving one, marked with its name:
    ``pasta``, or ``forwarder`` (an instance's inbound HAProxy, or ``runtime.inbound``)."""
    names = [p.name for p in Path("/run/netns").iterdir() if p.name.startswith(prefix)]
    helpers = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(NETNS_VAR, "").startswith(prefix):
                pasta = proc.name().startswith(("pasta", "passt"))
                helpers.append("pasta" if pasta else "forwarder")
    return names, sorted(helpers)


def test_a_killed_platform_leaves_no_network_namespace_pasta_or_forwarder(
    platform_factory: PlatformFactory,
) -> None:
    platform = platform_factory()
    assert "a network namespace per network" in platform.isolation["detail"]
    api = new_api(platform)
    network, app = api.new_app()
    api.deploy(network, app, web_app("v1"))
    prefix = Namespaces.choose(platform.data_dir, False).prefix
    names, helpers = leftovers(prefix)
    assert len(names) == 1  # the network's, its uplink (pasta) and the app's forwarder:
    assert helpers == ["forwarder", "pasta"]
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
