"""With only an app selected (``RIG_APP``, no network), the network commands mean that app's
network, as the app commands do."""

from __future__ import annotations

import pytest

from tests.support.cli import single_error_line
from tests.support.inprocess import InProcessRig as Rig


@pytest.mark.parametrize(
    "command", [["details", "network"], ["status", "network"], ["logs", "network"]]
)
def test_the_selected_apps_network_is_the_default_network(
    user_rig: Rig, command: list[str]
) -> None:
    user_rig.ok("create", "network", "shop")
    user_rig.ok("create", "network", "blog")
    user_rig.ok("create", "app", "api", "--network", "shop")
    only_app = {"RIG_APP": "api"}
    shown = user_rig.ok(*command, env=only_app)
    assert "shop" in shown.out + shown.err and "blog" not in shown.out + shown.err, str(shown)

    unknown = user_rig(*command, env={"RIG_APP": "apj"})
    assert unknown.code == 4, str(unknown)
    assert "did you mean `api`" in single_error_line(unknown), str(unknown)

    nothing = user_rig(*command)
    assert nothing.code == 2 and "say which network" in single_error_line(nothing), str(nothing)
