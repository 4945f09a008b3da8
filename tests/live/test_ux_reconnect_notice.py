"""Issue 19, item 11: a follow cut off by the platform's orderly shutdown says why, never
"connection lost ()"."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.live.conftest import Running, User, write_counter
from tests.support.platform import PlatformFactory


def test_a_graceful_platform_stop_gives_a_reason_not_empty_parentheses(
    platform_factory: PlatformFactory,
    make_user: Callable[..., User],
    tmp_path: Path,
    running: list[Running],
) -> None:
    platform = platform_factory()
    user = make_user(platform, "notice@example.com")
    user.ok("create", "network", "shop")
    source = write_counter(tmp_path / "counter", 0.05)
    user.ok("deploy", str(source), "--app", "counter", "--network", "shop", "--create")
    follow = user.start("logs", "app", "counter", "-f", "--tail", "1")
    running.append(follow)
    follow.lines(3)

    assert platform.process is not None
    port = platform.port
    platform.process.send_signal(signal.SIGTERM)  # an orderly stop: a close frame, no reason
    platform.process.wait(30)
    follow.stderr_says("reconnecting")
    notice = next(line for line in follow.err if "reconnecting" in line)
    assert "()" not in notice and notice.startswith("connection lost ("), notice
    time.sleep(0.5)
    platform.start(port)
    follow.stderr_says("reconnected")
    follow.proc.send_signal(signal.SIGINT)
    assert follow.proc.wait(10) == 130
