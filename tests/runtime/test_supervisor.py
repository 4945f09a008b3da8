from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from maxlocal.runtime.procfile import load_spec
from maxlocal.runtime.supervisor import LocalProcessDriver, Release, StartError, State
from tests.support.runtime import PY, Events, gone, make_release

HEALTH_TIMEOUT = 150.0  # seconds: far beyond any start on a loaded machine


def get(port: int, path: str = "/") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5, trust_env=False)


def wait_for(condition: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_procfile_app_runs_healthy_with_port_env_logs_and_figures(
    tmp_path: Path, driver: LocalProcessDriver, events: Events
) -> None:
    path = tmp_path / "rel"
    path.mkdir()
    (path / "index.html").write_text("hello from the app\n")
    (path / "Procfile").write_text(f"web: {PY} -m http.server $PORT --bind 127.0.0.1\n")
    spec = load_spec(path)
    release = Release("shop/site", 1, path, spec.processes, {"GREETING": "hi"})

    status = driver.start(release)

    assert status.state == State.RUNNING and status.release == 1
    assert status.port == driver.port("shop/site")
    assert get(status.port).text == "hello from the app\n"
    assert set(status.pids) == {"web"}
    assert events.names() == [State.STARTING, State.RUNNING]
    wait_for(lambda: any('"GET / HTTP/1.1" 200' in line for _, _, line, _ in events.logs))
    app, stream, _, process = next(e for e in events.logs if "GET /" in e[2])
    assert (app, stream, process) == ("shop/site", "stderr", "web.1")  # its instance
    later = driver.status("shop/site")
    assert later.memory_rss > 1_000_000 and later.uptime_s is not None and later.uptime_s > 0
    assert later.started_at is not None and later.started_at.endswith("Z")

    pid = status.pids["web"]
    driver.stop("shop/site")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    assert driver.status("shop/site").state == State.STOPPED
    assert driver.port("shop/site") is None
    assert driver.status("shop/site").pids == {}


def test_env_vars_reach_the_process(tmp_path: Path, driver: LocalProcessDriver) -> None:
    status = driver.start(make_release(tmp_path, 1, env={"VERSION": "custom"}))
    assert status.port is not None
    assert get(status.port).text == "custom\n"


def test_fail_fast_when_the_process_exits_during_the_health_check(
    tmp_path: Path, events: Events
) -> None:
    driver = LocalProcessDriver(events.log, events.state, health_timeout=HEALTH_TIMEOUT)
    release = make_release(tmp_path, 1, {"web": "echo starting; echo 'no module app' >&2; exit 3"})
    started = time.monotonic()
    with pytest.raises(StartError) as caught:
        driver.start(release)
    assert time.monotonic() - started < HEALTH_TIMEOUT / 5  # at the exit, not the timeout
    assert caught.value.exit_code == 3
    assert "web exited with code 3 before accepting connections on port" in caught.value.message
    assert set(caught.value.tail) == {"starting", "no module app"}
    assert driver.status("shop/api").state == State.FAILED
    assert events.names() == [State.STARTING, State.FAILED]
    driver.close()


def test_health_timeout_kills_a_process_that_never_listens(tmp_path: Path, events: Events) -> None:
    driver = LocalProcessDriver(events.log, events.state, health_timeout=0.5, stop_grace=1)
    release = make_release(tmp_path, 1, {"web": "echo $$ > pid; exec sleep 30"})
    with pytest.raises(StartError, match=r"did not accept connections on port \d+ within 0\.5 s"):
        driver.start(release)
    pid = int((release.path / "pid").read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def test_without_web_processes_settle_and_have_no_port(
    tmp_path: Path, driver: LocalProcessDriver
) -> None:
    status = driver.start(make_release(tmp_path, 1, {"worker": "sleep 30"}))
    assert status.state == State.RUNNING and status.port is None
    assert set(status.pids) == {"worker"}


def test_a_crashed_web_restarts_on_its_port_with_backoff(
    tmp_path: Path, driver: LocalProcessDriver, events: Events
) -> None:
    worker = "if [ -e ran ]; then echo again; exit 1; fi; touch ran; exec sleep 30"
    status = driver.start(make_release(tmp_path, 1, {"web": f"{PY} app.py", "worker": worker}))
    port = status.port
    assert port is not None
    os.kill(status.pids["worker"], signal.SIGKILL)

    wait_for(lambda: driver.status("shop/api").restarts >= 3)
    notes = [n for n in platform_notes(events) if n.startswith("worker")]
    assert notes[:3] == [
        "worker was killed by signal 9; restarting in 0.2 s",
        "worker exited with code 1; restarting in 0.4 s",
        "worker exited with code 1; restarting in 0.8 s",
    ]
    crashes = [at for at, _, state, _ in events.states if state == State.CRASHED]
    assert crashes[2] - crashes[1] > crashes[1] - crashes[0]

    with pytest.raises(httpx.HTTPError):
        get(port, "/crash")
    wait_for(lambda: "web exited with code 7; restarting in 0.2 s" in platform_notes(events))
    wait_for(lambda: _answers(port))
    assert get(port).text == "v1\n"
    assert driver.port("shop/api") == port


def platform_notes(events: Events) -> list[str]:
    return [line for _, stream, line, _ in events.logs if stream == "platform"]


def _answers(port: int) -> bool:
    try:
        return get(port).status_code == 200
    except httpx.HTTPError:
        return False


def test_running_again_after_a_crash(
    tmp_path: Path, driver: LocalProcessDriver, events: Events
) -> None:
    port = driver.start(make_release(tmp_path, 1)).port
    assert port is not None
    with pytest.raises(httpx.HTTPError):
        get(port, "/crash")
    wait_for(lambda: events.names()[-1] == State.RUNNING and State.CRASHED in events.names())
    status = driver.status("shop/api")
    assert status.restarts == 1 and status.state == State.RUNNING


def test_switch_keeps_the_old_release_when_the_new_one_fails(
    tmp_path: Path, driver: LocalProcessDriver, events: Events
) -> None:
    old = driver.start(make_release(tmp_path, 1))
    with pytest.raises(StartError):
        driver.start(make_release(tmp_path, 2, {"web": "exit 2"}))
    status = driver.status("shop/api")
    assert (status.state, status.release, status.port) == (State.RUNNING, 1, old.port)
    assert old.port is not None and get(old.port).text == "v1\n"
    assert State.FAILED not in events.names()


def test_switch_moves_to_the_new_port_then_stops_the_old(
    tmp_path: Path, driver: LocalProcessDriver
) -> None:
    old = driver.start(make_release(tmp_path, 1))
    new = driver.start(make_release(tmp_path, 2))
    assert new.release == 2 and new.port != old.port
    assert new.port is not None and get(new.port).text == "v2\n"
    assert old.port is not None
    wait_for(lambda: not _answers(old.port))  # type: ignore[arg-type]
    assert not psutil.pid_exists(old.pids["web"]) or (
        psutil.Process(old.pids["web"]).status() == "zombie"
    )


def test_stop_kills_the_group_even_when_sigterm_is_ignored(
    tmp_path: Path, driver: LocalProcessDriver
) -> None:
    command = "trap '' TERM; sleep 600 & echo $! > child; wait"
    release = make_release(tmp_path, 1, {"worker": command})
    driver.start(release)
    # start returns once the worker has stayed up a moment, not once the shell wrote the file
    pid_file = release.path / "child"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().endswith("\n"))
    child = int(pid_file.read_text())
    assert psutil.Process(child).status() != "zombie"
    started = time.monotonic()
    driver.stop("shop/api")
    assert time.monotonic() - started < 60  # after the grace of 1 s, not the sleep's 600 s
    # stop has SIGKILLed the group and reaped the shell; the kernel may take a moment more to
    # end the orphaned sleep (it runs no code of its own after the SIGKILL)
    wait_for(lambda: gone(child), timeout=30)


def test_stopped_app_starts_again(tmp_path: Path, driver: LocalProcessDriver) -> None:
    release = make_release(tmp_path, 1)
    driver.start(release)
    driver.stop("shop/api")
    status = driver.start(release)
    assert status.state == State.RUNNING and status.port is not None
    assert get(status.port).text == "v1\n"


def test_unknown_app_is_created(driver: LocalProcessDriver) -> None:
    assert driver.status("nope/nope").state == State.CREATED
    assert driver.port("nope/nope") is None
