"""The shell's live side in-process, against a real platform: its own socket (state and
status events), and a follow in a background job that is killed while it waits for a line."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rig.repl import completion, status
from rig.repl.jobs import JobStream
from rig.repl.shell import RigShell
from tests.support.cli import Rig, base_env
from tests.support.platform import Platform
from tests.terminal.socket_only import NEVER


def wait_until(check: Callable[[], object], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.02)


@pytest.fixture
def shell(logged_in: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RigShell]:
    for name, value in base_env(logged_in.config_dir).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RIG_STATE_DIR", str(tmp_path / "state"))
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "app", "api", "--network", "shop")
    output = io.StringIO()
    shell = RigShell(stdin=io.StringIO(), stdout=output, stderr=output)
    yield shell
    shell.postloop()


@pytest.fixture
def no_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name cache refreshes only when told to (the socket's join and events), never by
    polling: a name that appears then was brought by the socket, however long it took."""
    monkeypatch.setattr(completion, "POLL_INTERVAL", NEVER)
    monkeypatch.setattr(completion, "LIVE_POLL_INTERVAL", NEVER)


def test_the_shell_socket_drives_the_toolbar_and_refreshes_names_on_its_events(
    no_polls: None, shell: RigShell, logged_in: Rig
) -> None:
    wait_until(lambda: shell.connection.state == status.CONNECTED, "connected")
    # connected comes before status:user is joined: an app created in between is seen by the
    # refresh the join makes, not as an event
    wait_until(shell.socket.joined.is_set, "status:user joined")
    wait_until(lambda: ("shop", "api") in shell.cache.names.apps, "first names")
    before = shell.socket.events
    logged_in.ok("create", "app", "fresh", "--network", "shop")
    wait_until(lambda: ("shop", "fresh") in shell.cache.names.apps, "the new app", 15)
    assert shell.socket.events > before  # how soon is the bench's figure
    shell.socket.stop()
    assert shell.connection.state == status.CONNECTED  # the polls took over and still reach it


def test_killing_a_follow_that_waits_for_a_line_ends_it(
    shell: RigShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = threading.Event()  # a follow flushes its output as it starts to wait for more
    monkeypatch.setattr(JobStream, "flush", lambda _stream: waiting.set())
    shell.onecmd_plus_hooks("logs app api --network shop -f &")
    job = shell.jobs.get(1)
    assert job is not None
    wait_until(waiting.is_set, "the follow joined and waiting for a line")
    time.sleep(0.2)  # well into the wait; the app has never printed anything
    assert job.running
    shell.jobs.kill(job)
    assert job.wait(2), "the job's thread is still blocked on the socket"


def test_the_toolbar_says_reconnecting_while_the_platform_is_down(
    shell: RigShell, platform: Platform
) -> None:
    wait_until(lambda: shell.connection.state == status.CONNECTED, "connected")
    port = platform.port
    platform.stop()
    wait_until(lambda: shell.connection.state == status.RECONNECTING, "reconnecting")
    time.sleep(1.5)  # polls fail meanwhile: the socket's word stands
    assert shell.connection.state == status.RECONNECTING
    platform.start(port)
    wait_until(lambda: shell.connection.state == status.CONNECTED, "connected again", 15)


def test_status_logs_and_details_alone_mean_the_selection(shell: RigShell) -> None:
    """With an app selected, ``status``, ``logs`` and ``details`` need no resource word (they
    mean ``status app`` and so on), a network alone means ``... network``, and history keeps
    the lines as they were typed."""
    output = shell.stdout
    assert isinstance(output, io.StringIO)

    def run(line: str) -> str:
        start = len(output.getvalue())
        shell.onecmd_plus_hooks(line)
        return output.getvalue()[start:]

    run("use app shop/api")
    assert "App:      api" in run("status")
    assert '"name": "api"' in run("details -o json")
    assert "no log lines in the app api" in run("logs --tail 5")
    run("use network shop")
    assert "Network: shop" in run("status")
    assert '"name": "shop"' in run("details -o json")
    run("use none")
    assert "`status` of what? No app or network is selected" in run("status")
    assert [h.raw for h in shell.history][-9:] == [
        "use app shop/api",
        "status",
        "details -o json",
        "logs --tail 5",
        "use network shop",
        "status",
        "details -o json",
        "use none",
        "status",
    ]


def test_status_alone_with_nothing_selected_means_rig_app(shell: RigShell) -> None:
    """With nothing selected, ``status`` means the app RIG_APP (or rig.toml) names, as
    ``status app`` does; only with none of them is it refused."""
    output = io.StringIO()
    env = {**shell.env, "RIG_APP": "api", "RIG_NETWORK": "shop"}
    with_env = RigShell(
        stdin=io.StringIO(), stdout=output, stderr=output, env=env, background=False
    )
    with_env.onecmd_plus_hooks("use none")
    with_env.onecmd_plus_hooks("status")
    assert "App:      api" in output.getvalue(), output.getvalue()
