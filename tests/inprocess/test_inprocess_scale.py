"""``rig scale app``: the count is kept for an app not deployed yet; bad counts are usage
errors in rig (exit 2) and refused by the platform (422) before anything runs."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import single_error_line
from tests.support.inprocess import InProcessRig as Rig


def test_a_count_is_kept_before_the_first_deploy(user_rig: Rig) -> None:
    user_rig.ok("create", "network", "shop")
    user_rig.ok("create", "app", "api", "--network", "shop")
    run = user_rig.ok("scale", "app", "api", "--network", "shop", "--instances", "3", "-o", "json")
    status = json.loads(run.out)
    assert status["scale"] == 3 and status["instances"] == [], status
    shown = user_rig.ok("scale", "app", "api", "--network", "shop", "--instances", "2")
    assert "Scaled app api" in shown.out and "2 web instances (not deployed yet)" in shown.out, (
        shown
    )
    again = json.loads(user_rig.ok("status", "app", "api", "--network", "shop", "-o", "json").out)
    assert again["scale"] == 2


@pytest.mark.parametrize("count", ["0", "17", "x", "-1"])
def test_a_bad_count_is_a_usage_error(user_rig: Rig, count: str) -> None:
    user_rig.ok("create", "network", "shop")
    user_rig.ok("create", "app", "api", "--network", "shop")
    run = user_rig("scale", "app", "api", "--network", "shop", f"--instances={count}")
    assert run.code == 2, str(run)
    assert "1 to 16" in single_error_line(run), str(run)
