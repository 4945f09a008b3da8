"""A service update that races the engine's own write to the service still rolls.

The engine writes a service itself while a rolling update runs (its ``UpdateStatus``:
``updating``, then ``completed`` a monitor period after the last new task), and each write
bumps the version that an update must name. A rollback sent within seconds of a deploy (as
``test_redeploy_then_roll_back_without_dropping_requests`` does) read the service before that
write and wrote after it: the engine refused it ("update out of sequence"), the release
failed, and the driver's undo put the service back to the spec before the *deploy*. Here the
race is made certain, not likely: the deploy's read of the service is handed back only once
the engine has written the service after it."""

from __future__ import annotations

import time
from typing import Any

from maxlocal.runtime.swarm import services
from tests.swarm.conftest import Releases, get, spec

STEP = 60.0


class _OvertakenApi:
    """The engine's API, except that its first read of ``app`` is returned only after the
    engine itself has written the service (a newer version): the write that follows that
    read is out of sequence, as it was when a rollback followed a deploy closely."""

    def __init__(self, api: Any, app: str) -> None:
        self._api = api
        self._app = app
        self.overtaken = 0

    def inspect_service(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        read: dict[str, Any] = self._api.inspect_service(name, *args, **kwargs)
        if name == self._app and not self.overtaken:
            self.overtaken = read["Version"]["Index"]
            deadline = time.monotonic() + STEP
            while self._api.inspect_service(name)["Version"]["Index"] == self.overtaken:
                assert time.monotonic() < deadline, "the engine did not write the service"
                time.sleep(0.05)
        return read

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._api, attribute)


class _Overtaken:
    """A client whose ``api`` is ``_OvertakenApi``; the rest (secrets) is the engine's."""

    def __init__(self, client: Any, app: str) -> None:
        self._client = client
        self.api = _OvertakenApi(client.api, app)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._client, attribute)


def test_swarm_a_rollback_right_after_a_deploy_rolls_although_the_engine_wrote_between(
    docker_client: Any, releases: Releases, app_name: str
) -> None:
    services.deploy(docker_client, spec(app_name, releases.r1, "1"))
    services.wait_converged(docker_client, app_name, "1", 1, STEP)
    services.deploy(docker_client, spec(app_name, releases.r2, "2"))
    # at once: the engine has still to write that this update runs, then that it completed
    racing = _Overtaken(docker_client, app_name)
    services.deploy(racing, spec(app_name, releases.r1, "3"))  # the rollback to r1's build

    assert racing.api.overtaken
    (instance,) = services.wait_converged(docker_client, app_name, "3", 1, STEP)
    assert get(instance.address).startswith("r1 ")
    current = docker_client.api.inspect_service(app_name)
    assert current["Spec"]["Labels"]["io.maxlocal.release"] == "3"
    assert current["PreviousSpec"]["Labels"]["io.maxlocal.release"] == "2"
