"""``rig logs -f`` while the platform is SIGKILLed and restarted: the follow resumes by
itself, and shows every line the app wrote and the platform stored, once, as written
(tests/reliability/follows.py holds it to the app's own record, not only to seqs)."""

from __future__ import annotations

from pathlib import Path

from tests.deploy.conftest import archive, new_api
from tests.reliability.deploys import wait_until
from tests.reliability.figures import PROCESS, Figures
from tests.reliability.follows import check_follow, shown_ticks, start_follower, ticker_app
from tests.support.cli import Rig
from tests.support.platform import PlatformFactory


def test_a_follow_survives_the_platform_being_killed(
    platform_factory: PlatformFactory, rig: Rig, tmp_path: Path, figures: Figures
) -> None:
    platform = platform_factory(health_timeout=20)
    owner = new_api(platform)
    token = str(owner.http.headers["Authorization"]).removeprefix("Bearer ")
    rig.ok("login", "--api", platform.url, "--token", token)
    assert owner.http.post("/networks", json={"name": "live"}).status_code == 201
    assert owner.http.post("/networks/live/apps", json={"name": "ticker"}).status_code == 201
    files, written = ticker_app(platform)
    assert owner.deploy("live", "ticker", archive(files))["status"] == "active"
    proc, out = start_follower(rig, 0, tmp_path)

    def followed() -> int:
        return shown_ticks(out)

    with figures.fault("platform SIGKILLed during a follow", PROCESS) as injected:
        wait_until(lambda: followed() >= 20, 30, "the follow to show lines")
        assert platform.process is not None
        platform.process.kill()
        platform.process.wait()
        shown_before = followed()
        platform.start(platform.port)
        try:
            wait_until(lambda: followed() >= shown_before + 40, 60, "the follow to resume")
        except AssertionError:
            proc.child.terminate(force=True)
            _, err, _ = proc.finish(20)
            raise AssertionError(
                f"the follow did not resume; its terminal:\n{err}\n"
                f"the platform's log:\n{platform.log()[-4000:]}"
            ) from None
        proc.interrupt()  # Ctrl+C on its terminal
        code, err, _ = proc.finish(20)
        injected.exit_code(code, 130, detail=err)
        injected.held("no traceback", "Traceback" not in err, err)
        # rig always sees this outage (the socket drops); under -o json it says nothing of it
        notices = [line for line in err.splitlines() if "reconnect" in line or "lost" in line]
        injected.held("no reconnect notice under -o json", not notices, err)
        check = check_follow(out, written, owner.logs("live", "ticker"))
        figures.add("lines_followed", check.lines)
        figures.add("lines_lost", check.lost)
        figures.add("lines_doubled", check.doubled)
        injected.held("every line the app wrote shown once", not check.problems,
                      "\n".join(check.problems))  # fmt: skip
    owner.http.close()
