"""With only an app selected (``RIG_APP``, no network), the network commands mean that app's
network, as the app commands do."""

from __future__ import annotations

import pytest

from tests.support.cli import Rig, single_error_line


@pytest.mark.parametrize(
    "command", [["details", "network"], ["status", "network"], ["logs", "network"]]
)
def test_the_selected_apps_network_is_the_default_network(
    logged_in: Rig, command: list[str]
) -> None:
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "network", "blog")
    logged_in.ok("create", "app", "api", "--network", "shop")
    only_app = {"RIG_APP": "api"}
    shown = logged_in.ok(*command, env=only_app)
    assert "shop" in shown.out + shown.err and "blog" not in shown.out + shown.err, str(shown)

    unknown = logged_in(*command, env={"RIG_APP": "apj"})
    assert unknown.code == 4, str(unknown)
    assert "did you mean `api`" in single_error_line(unknown), str(unknown)

    nothing = logged_in(*command)
    assert nothing.code == 2 and "say which network" in single_error_line(nothing), str(nothing)
