"""A follow whose login is over (its refresh token revoked) ends with exit 3 and one error line
with a hint, instead of reconnecting for ever with a token that can never work again."""

from __future__ import annotations

import time

from tests.support.cli import Rig
from tests.support.platform import PlatformFactory

AUTH = 3


def test_a_follow_whose_login_was_revoked_exits_3(
    rig: Rig, platform_factory: PlatformFactory
) -> None:
    platform = platform_factory(access_ttl=1)
    creds = platform.bootstrap()
    rig.login(platform, creds["email"], creds["password"])
    rig.ok("create", "network", "shop")
    rig.ok("create", "app", "api", "--network", "shop")

    follow = rig.popen("logs", "app", "api", "--network", "shop", "-f")
    try:
        time.sleep(3)  # following on the socket, its access token expired meanwhile
        assert follow.poll() is None, follow.communicate()
        rig.ok("logout")  # revokes the refresh token the follow holds
        platform.restart()  # drops the follow's socket: it must reconnect, and cannot
        _, err = follow.communicate(timeout=30)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.communicate()
    lines = err.strip().splitlines()
    assert follow.returncode == AUTH, err
    assert "Traceback" not in err, err
    last = lines[-1]
    assert last.startswith("rig: ") and "expired" in last and "(hint: " in last, err
    assert "rig login" in last, err
    assert sum("reconnecting" in line for line in lines) <= 1, err
