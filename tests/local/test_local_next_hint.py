"""`rig local start`'s hint (which ./quickstart prints) names the first step only while there is
no network yet (issue 19, item 9): it was printed on every start."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import Rig

HINT = "Next: rig create network my-project"


def test_the_next_step_is_suggested_only_while_there_is_no_network(
    rig: Rig, tmp_path: Path
) -> None:
    rig.env["RIG_LOCAL_DATA"] = str(tmp_path / "local-data")
    try:
        assert HINT in rig.ok("local", "start", "--port", "0").out
        assert HINT in rig.ok("local", "start", "--port", "0").out  # still nothing
        rig.ok("create", "network", "my-project")
        again = rig.ok("local", "start", "--port", "0")
        assert "already running" in again.out and HINT not in again.out
        rig.ok("local", "stop")
        restarted = rig.ok("local", "start", "--port", "0")
        assert "started" in restarted.out and HINT not in restarted.out
    finally:
        rig("local", "stop")
