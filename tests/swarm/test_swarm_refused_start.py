"""A release whose update the engine refuses fails, and the app runs on as it ran.

The driver undoes a failed start by putting each service back to its previous spec. That is
right for an update the start made (the previous spec is what served) and wrong for one the
engine refused: the service still runs what served, and its previous spec is the release
*before* that. Seen as a rollback that failed "update out of sequence" while the app went on
to serve the release before the active one. The platform runs in this process (with the
swarm driver) so that the test can make the engine refuse: every update of the new release
names a version of the service one behind, as if the engine had written it since each read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from maxlocal.layout import Layout
from maxlocal.platform import RuntimeOptions
from maxlocal.runtime.swarm import engine, services
from maxlocal.runtime.swarm.driver import remove_platform
from tests.deploy.conftest import HEALTH_TIMEOUT, Api, web_app
from tests.support.inprocess import InProcessPlatform

pytestmark = [pytest.mark.swarm, pytest.mark.slow]

STEP = 120.0


@pytest.fixture
def swarm_inprocess(docker_client: object, tmp_path: Path) -> Iterator[InProcessPlatform]:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    options = RuntimeOptions(
        Layout(data), isolation="none", health_timeout=HEALTH_TIMEOUT, driver="swarm"
    )
    platform = InProcessPlatform(data, options)
    try:
        yield platform
    finally:
        platform.close()
        remove_platform(data)


def test_swarm_a_refused_rollback_fails_and_the_active_release_runs_on_untouched(
    swarm_inprocess: InProcessPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = swarm_inprocess.user()
    api = Api(swarm_inprocess, token)  # type: ignore[arg-type]
    network, app = api.new_app()
    assert api.deploy(network, app, web_app("v1"), timeout=STEP)["status"] == "active"
    assert api.deploy(network, app, web_app("v2"), timeout=STEP)["status"] == "active"
    client: Any = swarm_inprocess.platform.runtime.client  # type: ignore[attr-defined]
    [service] = client.services.list(filters={"label": f"{engine.NETWORK}={network}"})
    update = client.api.update_service

    def one_behind(service: str, version: int, **body: Any) -> Any:
        if body["labels"][engine.RELEASE] == "3":
            version -= 1
        return update(service, version, **body)

    monkeypatch.setattr(client.api, "update_service", one_behind)
    response = api.http.post(f"/networks/{network}/apps/{app}/rollback", json={})
    assert response.status_code == 202, response.text
    release = api.wait(network, app, response.json()["number"], timeout=STEP)

    assert release["status"] == "failed"
    assert "update out of sequence" in release["error"]["reason"]
    spec = client.api.inspect_service(service.name)["Spec"]
    assert spec["Labels"][engine.RELEASE] == "2"  # not put back to release 1's
    (instance,) = services.wait_converged(client, service.name, "2", 1, STEP)
    answer = httpx.get(f"http://{instance.address}/", timeout=10, trust_env=False)
    assert answer.text == "hello from v2\n"
    assert api.status(network, app)["release"] == 2
