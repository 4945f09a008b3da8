"""``rig command``, piped ``rig shell``, ``rig list sessions`` and ``rig audit``: the real
client over a real WebSocket to the real exec handler, sessions and audit trail
(tests/remote/server.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import psutil

from tests.remote.conftest import ROOT, RemotePlatform, processes_with, wait_for
from tests.remote.server import GREETING, RELEASE_MARKER, SECRET

APP = ("--app", "api", "--network", "shop")


def test_the_exit_code_is_passed_through(remote: RemotePlatform) -> None:
    assert remote.rig("command", "exit 3", *APP).returncode == 3
    assert remote.rig("command", "true", *APP).returncode == 0


def test_a_command_runs_in_the_release_with_the_apps_environment(remote: RemotePlatform) -> None:
    run = remote.rig("command", 'echo "$GREETING"; cat marker.txt', *APP)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{GREETING}\n{RELEASE_MARKER}\n"


def test_stdout_and_stderr_arrive_on_their_own_streams(remote: RemotePlatform) -> None:
    run = remote.rig("command", "echo to-out; echo to-err >&2; echo more-out", *APP)
    assert run.stdout == "to-out\nmore-out\n"
    assert run.stderr == "to-err\n"


def test_a_command_killed_by_a_signal_gives_128_plus_its_number(remote: RemotePlatform) -> None:
    assert remote.rig("command", "kill -9 $$", *APP).returncode == 137
    assert remote.rig("command", "kill -TERM $$", *APP).returncode == 143


def test_a_timeout_stops_the_command(remote: RemotePlatform) -> None:
    started = time.monotonic()
    run = remote.rig("command", "echo started; sleep 600", *APP, "--timeout", "1s")
    assert time.monotonic() - started < 60  # at its timeout, not after the sleep's 600 s
    assert run.returncode == 124  # as timeout(1), told apart from a command killed by TERM
    assert run.stdout == "started\n"
    assert "timed out after 1 s" in run.stderr


def test_json_prints_one_document(remote: RemotePlatform) -> None:
    started = time.monotonic()
    run = remote.rig("command", "echo out; echo err >&2; exit 2", *APP, "-o", "json")
    took = time.monotonic() - started
    assert run.returncode == 2
    doc = json.loads(run.stdout)
    assert doc["exit_code"] == 2
    assert doc["stdout"] == "out\n"
    assert doc["stderr"] == "err\n"
    assert 0 <= doc["duration_s"] <= took  # seconds, within rig's run


def test_stdin_is_forwarded_when_it_is_not_a_terminal(remote: RemotePlatform) -> None:
    run = remote.rig("command", "tr a-z A-Z", *APP, input="hello\nworld\n")
    assert run.stdout == "HELLO\nWORLD\n"


def test_ctrl_c_interrupts_the_remote_command(remote: RemotePlatform) -> None:
    script = "trap 'echo interrupted; exit 42' INT; echo ready; sleep 30 & wait"
    proc = remote.popen("command", script, *APP)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 42
    assert proc.stdout.read() == "interrupted\n"


def test_a_piped_script_runs_and_exits_with_the_last_status(remote: RemotePlatform) -> None:
    run = remote.rig("shell", *APP, input='echo "$GREETING"\ncat marker.txt\nfalse\n')
    assert run.returncode == 1
    assert run.stdout == f"{GREETING}\n{RELEASE_MARKER}\n"
    assert remote.rig("shell", *APP, input="echo fine\nexit 5\necho never\n").returncode == 5
    assert remote.rig("shell", *APP, input="echo fine\n").returncode == 0


def test_a_network_session_has_the_networks_directory_and_environment(
    remote: RemotePlatform,
) -> None:
    run = remote.rig(
        "command", 'pwd; echo "$REGION"; echo "${GREETING:-unset}"', "--network", "shop"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{remote.data_dir / 'network-shop'}\neu\nunset\n"


def test_another_user_cannot_run_anything_on_the_app(remote: RemotePlatform) -> None:
    for args in (
        ("command", "touch owned", *APP),
        ("shell", *APP),
        ("command", "id", "--network", "shop"),
    ):
        run = remote.rig(*args, token="tok-bob", input="touch owned\n")
        assert run.returncode == 4, run
        assert "not found" in run.stderr
    assert not (remote.data_dir / "release" / "owned").exists()
    assert json.loads(remote.rig("audit", "-o", "json", token="tok-bob").stdout) == []


def test_nothing_is_left_running_after_a_command(remote: RemotePlatform) -> None:
    marker = "1000.25"
    run = remote.rig("command", f"sleep {marker} & sleep {marker} & echo started", *APP)
    assert (run.returncode, run.stdout) == (0, "started\n")
    assert wait_for(lambda: not processes_with(f"sleep {marker}"), 5)


def test_live_sessions_are_listed_and_a_dropped_client_ends_its_session(
    remote: RemotePlatform,
) -> None:
    marker = "1000.5"
    proc = remote.popen("command", f"echo ready; sleep {marker}", *APP)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    live = json.loads(remote.rig("list", "sessions", "-o", "json").stdout)
    assert [(s["network"], s["app"], s["kind"]) for s in live] == [("shop", "api", "command")]
    assert live[0]["command"] == f"echo ready; sleep {marker}"
    assert json.loads(remote.rig("list", "sessions", "-o", "json", token="tok-bob").stdout) == []
    assert "sleep" in remote.rig("list", "sessions").stdout

    proc.kill()  # the client vanishes without a word: its socket drops
    proc.wait()
    assert wait_for(lambda: not processes_with(f"sleep {marker}"), 10)
    listed = lambda: json.loads(remote.rig("list", "sessions", "-o", "json").stdout)  # noqa: E731
    assert wait_for(lambda: listed() == [], 10)


def test_a_platform_dying_mid_command_exits_6_with_a_clear_message(
    remote: RemotePlatform,
) -> None:
    proc = remote.popen("command", "echo ready; sleep 1000.75", *APP)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == "ready\n"
    remote.kill()
    assert proc.wait(10) == 6
    assert "connection to the platform lost" in proc.stderr.read()


def test_the_audit_lists_every_session_with_secret_values_masked(remote: RemotePlatform) -> None:
    remote.rig("command", "exit 3", *APP)
    remote.rig("command", f'echo {SECRET} | wc -c; echo "$API_KEY"', *APP)
    remote.rig("shell", *APP, input=f"echo {SECRET}\nexit 4\n")
    remote.rig("command", "true", "--network", "shop")
    remote.rig("command", "true", *APP, token="tok-bob")

    rows = json.loads(remote.rig("audit", "-o", "json").stdout)
    assert SECRET not in json.dumps(rows)
    summary = [(r["network"], r["app"], r["kind"], r["command"], r["exit_code"]) for r in rows]
    assert summary == [
        ("shop", "api", "command", "exit 3", 3),
        ("shop", "api", "command", 'echo [secret] | wc -c; echo "$API_KEY"', 0),
        ("shop", "api", "shell", "shell (script on stdin)", 4),
        ("shop", None, "command", "true", 0),
    ]
    for row in rows:
        assert row["user_email"] == "alice@example.com"
        assert row["client"].startswith("127.0.0.1:")
        assert row["ended_at"] >= row["started_at"]
        assert row["duration_s"] >= 0 and row["reason"] == "exit"

    app_only = json.loads(remote.rig("audit", *APP, "--since", "1h", "-o", "json").stdout)
    assert [r["app"] for r in app_only] == ["api", "api", "api"]
    network = json.loads(remote.rig("audit", "--network", "shop", "-o", "json").stdout)
    assert len(network) == 4
    assert json.loads(remote.rig("audit", "--since", "2000-01-01T00:00:00Z", "-o", "json").stdout)
    future = remote.rig("audit", "--since", "2999-01-01T00:00:00Z", "-o", "json")
    assert json.loads(future.stdout) == []
    table = remote.rig("audit").stdout
    assert "alice@example.com" in table and "[secret]" in table and SECRET not in table


def test_a_slow_reader_holds_the_command_back_and_gets_every_byte(
    remote: RemotePlatform,
) -> None:
    """While rig's reader does not read, its socket stops being read and the platform stops
    reading the command's output: the command waits (its pipe is full) instead of the
    platform holding 64 MB for the client. Then every byte arrives, and the exit."""
    size = 64 * 1024 * 1024
    marker = "slow-reader-1234"
    command = f"yes {marker} | head -c {size}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig", "command", command, *APP],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=remote.env(),
        cwd=ROOT,
    )
    platform = psutil.Process(remote.process.pid)
    before = platform.memory_info().rss
    assert wait_for(lambda: bool(processes_with(f"head -c {size}")), timeout=30)
    most = 0
    for _ in range(30):  # 3 s of not reading: long enough to make 64 MB many times over
        most = max(most, platform.memory_info().rss - before)
        time.sleep(0.1)
    still_held = bool(processes_with(f"head -c {size}"))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert len(out) == size and out.startswith(f"{marker}\n".encode()), len(out)
    assert still_held, "the command ran to its end while nobody read its output"
    assert most < 32 * 1024 * 1024, f"the platform held {most / 2**20:.0f} MB for a slow reader"
