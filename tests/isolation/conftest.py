"""One platform per isolation mode per module: ``world`` is parametrized over MODES."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.isolation.world import MODES, World, make_world
from tests.support.platform import stop_for_good


@pytest.fixture(scope="module", params=MODES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The module's platform of one mode, with the module's ``WORLD_OPTIONS[mode]`` as flags."""
    mode = request.param
    options = getattr(request.module, "WORLD_OPTIONS", {}).get(mode, {})
    made = make_world(tmp_path_factory.mktemp(f"iso-{mode}"), mode, **options)
    yield made
    made.alice.http.close()
    made.bob_api.http.close()
    stop_for_good(made.platform)
    made.host_tmp.unlink(missing_ok=True)
    made.host_server.stop()
