"""``rig logs ... -f``, ``rig deploy`` and ``rig status --watch`` against the real platform:
outages, stalls, interop with phoenix.js, cost and latency."""

from __future__ import annotations

import itertools
import json
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from rig.transport.follow import Following
from tests.live.conftest import Running, User, write_counter
from tests.support.cli import ROOT, base_env
from tests.support.phoenixjs import JS, node_client
from tests.support.platform import Platform, PlatformFactory
from tests.support.proxy import Proxy

FORBIDDEN_AND_5 = ["logs:network:theirs", "5"]
MakeUser = Callable[[Platform, str], User]


def deploy_counter(user: User, tmp_path: Path, network: str, app: str, period: float) -> None:
    if network not in user.ok("list", "networks"):
        user.ok("create", "network", network)
    source = write_counter(tmp_path / f"{network}-{app}", period)
    user.ok("deploy", str(source), "--app", app, "--network", network, "--create")


def records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def stored(user: User, *command: str) -> list[dict[str, Any]]:
    return records(user.ok(*command, "-o", "json").splitlines())


def assert_gapless(got: list[dict[str, Any]]) -> None:
    seqs = [r["seq"] for r in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


def numbers(got: list[dict[str, Any]]) -> list[int]:
    """The app's own counter on each of its lines shown (the counter app prints ``n=K``)."""
    return [int(r["line"].removeprefix("n=")) for r in got if r["stream"] == "stdout"]


def assert_numbered(got: list[dict[str, Any]]) -> None:
    """The app's ``n=K`` lines count up by one, starting again at 1 only when it restarted:
    the app wrote every number, so a number missing is a line the follow did not show."""
    for before, after in itertools.pairwise(numbers(got)):
        assert after in (before + 1, 1), f"after n={before} the follow showed n={after}"


def deadline(seconds: float, what: str) -> Iterator[float]:
    """``for left in deadline(30, "x"):`` loops until broken out of, failing after
    ``seconds`` with what it waited for; ``left`` is the time remaining."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        yield left
    raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")


def until_the_app_restarts(follow: Running, got: list[dict[str, Any]]) -> int:
    """Reads the follow on (into ``got``) to the first app line that does not go on from the
    one before: the restarted app's first line shown. Returns its number."""
    last = numbers(got)[-1]
    for left in deadline(30, f"the restarted app's lines (the last shown: n={last})"):
        (record,) = records(follow.lines(1, timeout=left))
        got.append(record)
        if record["stream"] == "stdout":
            number = numbers([record])[0]
            if number != last + 1:
                return number
            last = number
    raise AssertionError("unreachable")


def interrupt(run: Running) -> int:
    run.proc.send_signal(signal.SIGINT)
    return run.proc.wait(10)


def test_a_follow_survives_the_platform_killed_and_restarted(
    platform_factory: PlatformFactory,
    make_user: MakeUser,
    tmp_path: Path,
    running: list[Running],
) -> None:
    platform = platform_factory()
    user = make_user(platform, "kill@example.com")
    deploy_counter(user, tmp_path, "shop", "counter", 0.02)
    # -v: under -o json the reconnect notices are diagnostics, shown only when asked for
    follow = user.start("logs", "app", "counter", "-f", "--tail", "5", "-o", "json", "-v")
    running.append(follow)
    got = records(follow.lines(40))

    assert platform.process is not None
    port = platform.port
    platform.process.kill()  # SIGKILL: no goodbye to anyone
    platform.process.wait()
    follow.stderr_says("reconnecting")
    time.sleep(1)
    platform.start(port)
    follow.stderr_says("reconnected")
    first = until_the_app_restarts(follow, got)
    assert first == 1, (
        f"the restarted app's first line shown is n={first}: n=1..{first - 1}, which it "
        "wrote, were never shown"
    )
    got += records(follow.lines(40))
    assert interrupt(follow) == 130
    notices = [line for line in follow.err if "reconnect" in line]
    assert len(notices) == 2 and notices[1] == "reconnected", follow.err

    assert_gapless(got)
    assert_numbered(got)
    everything = stored(user, "logs", "app", "counter")
    by_seq = {r["seq"]: r for r in everything}
    assert got == [by_seq[r["seq"]] for r in got]  # exactly what the platform stored
    assert got[-1]["seq"] - got[0]["seq"] + 1 == len(got)
    print(f"SIGKILL follow: {len(got)} lines, seq {got[0]['seq']}..{got[-1]['seq']}, each once")


def test_a_stalled_connection_is_found_by_the_heartbeat_and_replaced(
    platform: Platform, make_user: MakeUser, tmp_path: Path, running: list[Running]
) -> None:
    user = make_user(platform, "stall@example.com")
    deploy_counter(user, tmp_path, "stall", "counter", 0.05)
    proxy = Proxy(platform.port).start()
    try:
        user.api = proxy.url
        argv = ("logs", "app", "counter", "-f", "--tail", "1", "-o", "json", "-v")
        follow = user.start(*argv, RIG_HEARTBEAT_S="0.5")
        running.append(follow)
        got = records(follow.lines(1))  # the history
        deadline = time.monotonic() + 10
        while proxy.accepted < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        got += records(follow.lines(5))  # live, through the socket: stall it now, not its start
        proxy.stall()
        stalled = time.monotonic()
        # found by the heartbeat of 0.5 s: the default one (30 s) would not say so in time
        follow.stderr_says("heartbeat timeout", timeout=15)
        follow.stderr_says("reconnected", timeout=15)
        noticed = time.monotonic() - stalled
        got += records(follow.lines(40))
        assert interrupt(follow) == 130
    finally:
        proxy.stop()
    assert proxy.accepted >= 3  # the history, the first socket, the new one
    assert_gapless(got)
    assert_numbered(got)
    print(f"stall noticed and replaced in {noticed:.2f} s (heartbeat every 0.5 s)")


@pytest.fixture
def shared(platform: Platform, make_user: MakeUser, tmp_path: Path) -> User:
    """A user with a counter app ``shop/counter`` printing every 50 ms."""
    user = make_user(platform, "a@example.com")
    deploy_counter(user, tmp_path, "shop", "counter", 0.05)
    return user


def test_phoenix_js_joins_a_log_topic_and_is_refused_another_users(
    shared: User, platform: Platform, make_user: MakeUser, tmp_path: Path
) -> None:
    other = make_user(platform, "b@example.com")
    other.ok("create", "network", "theirs")
    node = node_client()
    endpoint = f"ws://127.0.0.1:{platform.port}/socket"
    proc = subprocess.run(
        [node, "client.js", endpoint, shared.token, "logs:app:shop/counter", *FORBIDDEN_AND_5],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[0]["event"] == "joined" and events[0]["response"]["first_seq"] == 1
    logs = [e["payload"] for e in events if e["event"] == "log"]
    assert [r["seq"] for r in logs[:5]] == [1, 2, 3, 4, 5]
    assert (
        set(logs[0]) == {"seq", "ts", "app", "stream", "line", "process", "instance"}
        and logs[0]["app"] == "counter"
    )
    refused = [e for e in events if e["event"] == "refused"]
    assert refused[0]["response"] == {"reason": "unauthorized"}


def test_another_users_topics_and_bad_tokens_are_refused(shared: User, platform: Platform) -> None:
    from rig.transport.follow import Unavailable
    from rig.transport.socket import JoinError

    mine, unknown = (lambda: {"token": shared.token}), (lambda: {"token": "mxa_unknown"})
    with pytest.raises(JoinError), Following(platform.url, mine, ["logs:network:nope"]):
        pass
    with pytest.raises(Unavailable, match="HTTP 403"), Following(platform.url, unknown, []):
        pass


def test_connect_and_join_again_and_again(shared: User, platform: Platform) -> None:
    """Five sockets in a row each join and deliver, the best well under the PRD's 1 s (the
    best of five, so one stall of a loaded machine does not decide; the bench's socket
    figure holds the 50 ms target)."""
    topics = ["logs:app:shop/counter", "logs:network:shop"]
    times = []
    for _ in range(5):
        started = time.perf_counter()
        with Following(
            platform.url, lambda: {"token": shared.token}, topics, events={"status:user": []}
        ) as following:
            times.append(time.perf_counter() - started)
            assert next(following)["app"] == "counter"
    print(f"connect + join of 3 topics: best {min(times) * 1000:.1f} ms, worst "
          f"{max(times) * 1000:.1f} ms")  # fmt: skip
    assert min(times) < 0.5


@pytest.mark.alone  # its CPU share
def test_an_idle_follow_stays_under_one_percent_cpu(
    platform: Platform, make_user: MakeUser, tmp_path: Path, running: list[Running]
) -> None:
    """An idle follow sleeps until a line or a heartbeat is due. Its share of a CPU is its
    own CPU time over the wall time, which a loaded machine does not inflate (the bench's
    target is 0.5 %)."""
    user = make_user(platform, "idle@example.com")
    deploy_counter(user, tmp_path, "quiet", "idle", 0)
    follow = user.start("logs", "app", "idle", "-f")
    running.append(follow)
    follow.lines(1)  # the platform's note that release 1 is active: the history is shown
    deploy_counter(user, tmp_path / "again", "quiet", "idle", 0)
    # the note of release 2, written after the history was read: it came through the socket,
    # so rig is done starting (imports, connect, join) and only waits from here on
    for left in deadline(30, "the note of release 2"):
        if "release 2 is active" in follow.lines(1, timeout=left)[0]:
            break
    process = psutil.Process(follow.proc.pid)
    before, started = process.cpu_times(), time.monotonic()
    time.sleep(4)
    after, elapsed = process.cpu_times(), time.monotonic() - started
    share = ((after.user - before.user) + (after.system - before.system)) / elapsed
    print(f"idle rig logs -f: {share * 100:.2f} % CPU over {elapsed:.1f} s")
    assert share < 0.01
    assert interrupt(follow) == 130


def test_network_logs_have_one_gapless_sequence_across_apps(
    shared: User, tmp_path: Path, running: list[Running]
) -> None:
    deploy_counter(shared, tmp_path, "shop", "second", 0.05)
    follow = shared.start("logs", "network", "shop", "-f", "--tail", "3", "-o", "json")
    running.append(follow)
    got = records(follow.lines(80))
    assert interrupt(follow) == 130
    assert_gapless(got)
    assert {r["app"] for r in got} == {"counter", "second"}
    everything = {r["seq"]: r for r in stored(shared, "logs", "network", "shop")}
    assert got == [everything[r["seq"]] for r in got]


def test_grep_applies_to_live_lines_too(shared: User, running: list[Running]) -> None:
    follow = shared.start("logs", "app", "counter", "-f", "--grep", "0$", "-o", "json")
    running.append(follow)
    got = records(follow.lines(6))
    assert interrupt(follow) == 130
    numbers = [int(r["line"][2:]) for r in got]
    assert all(n % 10 == 0 for n in numbers) and numbers == sorted(numbers)
    assert [b - a for a, b in itertools.pairwise(numbers)] == [10] * 5


def test_status_watch_redraws_on_a_state_change(shared: User, running: list[Running]) -> None:
    watch = shared.start("status", "app", "counter", "--watch", "-o", "json")
    running.append(watch)
    assert json.loads(watch.lines(1)[0])["state"] == "running"
    shared.ok("stop", "app", "counter")
    states = [json.loads(line)["state"] for line in watch.lines(1, timeout=10)]
    assert states == ["stopped"]
    shared.ok("start", "app", "counter")
    for left in deadline(30, f"the state to be running again (so far {states})"):
        if "running" in states:
            break
        states += [json.loads(line)["state"] for line in watch.lines(1, timeout=left)]
    assert interrupt(watch) == 130


def test_deploy_streams_its_build_log_live(
    shared: User, tmp_path: Path, running: list[Running]
) -> None:
    build = "for i in 1 2 3; do echo step $i; sleep 1; done"
    source = write_counter(tmp_path / "slow-build", 0.05, build=build)
    deploy = shared.start("deploy", str(source), "--app", "counter", "--network", "shop", "-vv")
    running.append(deploy)
    assert deploy.proc.wait(30) == 0, deploy.err
    shown = [line for line in deploy.err if line.startswith("build| step")]
    assert shown == ["build| step 1", "build| step 2", "build| step 3"]
    polls = [line for line in deploy.err if "/logs/build" in line]
    assert len(polls) <= 2, polls  # the stored lines before the follow, the rest after it


def test_deploy_prints_build_lines_while_the_build_runs(
    shared: User, platform: Platform, tmp_path: Path, running: list[Running]
) -> None:
    # The build goes on only once rig has shown its first line; the file is in the app's
    # home, which its sandboxed build sees (the test's directory it does not).
    go = platform.app_home("shop", "counter") / "go"
    build = f"echo first; while [ ! -e {go} ]; do sleep 0.05; done; echo second"
    source = write_counter(tmp_path / "gated-build", 0.05, build=build)
    deploy = shared.start("deploy", str(source), "--app", "counter", "--network", "shop")
    running.append(deploy)
    deploy.stderr_says("build| first")
    assert not any("build| second" in line for line in deploy.err)
    go.touch()
    deploy.stderr_says("build| second")
    assert deploy.proc.wait(30) == 0, deploy.err


def test_a_patient_follow_waits_for_a_platform_that_went_down_before_it_connected(
    platform: Platform, make_user: MakeUser, tmp_path: Path
) -> None:
    """`rig logs -f` has shown the stored lines over HTTP; if the platform dies before the
    socket's first connection, that is an outage like any later one: the follow retries,
    and goes on once the platform is back. An impatient follow says it cannot connect."""
    user = make_user(platform, "patient@example.com")
    deploy_counter(user, tmp_path, "calm", "steady", 0.05)
    topics = ["logs:app:calm/steady"]
    port = platform.port
    platform.stop()

    def token() -> dict[str, str]:
        return {"token": user.token}

    with pytest.raises(ConnectionError):  # Unavailable
        Following(platform.url, token, topics).__enter__()

    states: list[object] = []
    got: list[dict[str, Any]] = []

    def follow() -> None:
        with Following(platform.url, token, topics, on_state=states.append, patient=True) as f:
            got.append(next(f))

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    deadline = time.monotonic() + 30
    while not states:  # it is retrying, not failing
        assert follower.is_alive() and time.monotonic() < deadline, states
        time.sleep(0.05)
    platform.start(port)
    follower.join(60)
    assert got and got[0]["app"] == "steady", (got, states)
    names = [type(state).__name__ for state in states]  # as an outage is told, then over
    assert names[0] == "Reconnecting" and "Connected" in names, names


def test_ctrl_c_typed_in_a_tmux_pane_ends_a_follow(shared: User, tmp_path: Path) -> None:
    """A follow in the terminal a user has, a tmux pane: Ctrl+C typed there (``send-keys
    C-c``, the pane's ^C to its foreground process group) ends it with 130 and no traceback,
    and the shell in the pane goes on."""
    tmux = shutil.which("tmux")
    assert tmux, "tmux is needed (scripts/install-system-deps installs it)"
    env = {**base_env(shared.rig.config_dir), **shared.env()}
    script = tmp_path / "follow.sh"
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items() if k.isidentifier())
    follow = shlex.join([sys.executable, "-m", "rig", "logs", "app", "counter", "-f"])
    script.write_text(f'{exports}cd {shlex.quote(str(ROOT))}\n{follow}\necho "exit=$?"\nsleep 60\n')
    server = ["tmux", "-S", str(tmp_path / "tmux.sock")]  # a tmux server of this test's own

    def pane() -> str:
        shown = subprocess.run([*server, "capture-pane", "-p", "-t", "follow"], check=True,
                               capture_output=True, text=True, timeout=10)  # fmt: skip
        return shown.stdout

    shell = ["bash", "--noprofile", "--norc", str(script)]
    size = ["-x", "120", "-y", "40"]
    subprocess.run([*server, "new-session", "-d", "-s", "follow", *size, *shell], check=True)
    try:
        for _ in deadline(20, "the follow's lines in the pane"):
            if "n=3" in pane():
                break
            time.sleep(0.1)
        subprocess.run([*server, "send-keys", "-t", "follow", "C-c"], check=True, timeout=10)
        for _ in deadline(10, "the follow to end after Ctrl+C (exit= in the pane)"):
            if "exit=" in pane():
                break
            time.sleep(0.1)
        shown = pane()
        assert "exit=130" in shown and "Traceback" not in shown, shown
    finally:
        subprocess.run([*server, "kill-server"], capture_output=True, timeout=10)
