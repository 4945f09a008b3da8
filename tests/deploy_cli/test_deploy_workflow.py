"""The deployment workflow end to end: real rig, real platform, a real Python web app."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import httpx

from tests.deploy.conftest import EVERY_RUNTIME
from tests.deploy_cli.conftest import HEALTH_TIMEOUT, fetch, wait_for_body, write_app
from tests.support.cli import Rig
from tests.support.platform import Platform

pytestmark = EVERY_RUNTIME

HOST = "api.net.localhost"


def test_deploy_redeploy_config_and_rollback(
    deployer: Rig, deploy_platform: Platform, tmp_path: Path
) -> None:
    deployer.ok("create", "network", "net")
    source = write_app(tmp_path / "api", "v1")

    run = deployer.ok("deploy", str(source), "--app", "api", "--create", "-m", "first")
    assert re.search(
        r"Deployed api release 1 in [\d.]+ s: http://api\.net\.localhost:\d+/", run.out
    )
    assert "Created app api in network net" in run.err
    assert fetch(deploy_platform, HOST).text == "hello from v1\n"

    logs = deployer.ok("logs", "app", "api").out
    assert re.search(r"\S+ api\[web\.1\] stdout\| listening on \d+ version v1", logs)
    records = [
        json.loads(line)
        for line in deployer.ok("logs", "app", "api", "-o", "json").out.splitlines()
    ]
    assert records and {"seq", "ts", "app", "stream", "line"} <= set(records[0])
    grep = deployer.ok("logs", "app", "api", "--grep", "version v1", "--tail", "1", "-o", "json")
    assert [json.loads(line)["line"] for line in grep.out.splitlines()] == [
        next(r["line"] for r in records if "version v1" in r["line"])
    ]

    run = deployer.ok("create", "var", "GREETING=howdy", "--app", "api")
    assert "Restarting api with changed keys: GREETING (release 2)" in run.out
    wait_for_body(deploy_platform, HOST, "howdy from v1")

    write_app(source, "v2")
    data = deployer.ok("deploy", str(source), "--app", "api", "-o", "json").json()
    assert data["release"] == 3 and data["status"] == "active" and data["network"] == "net"
    assert re.fullmatch(r"[0-9a-f]{64}", data["checksum"])
    assert data["url"] == f"http://{HOST}:{deploy_platform.port}/"
    assert fetch(deploy_platform, HOST).text == "howdy from v2\n"

    releases = deployer.ok("list", "releases", "--app", "api", "-o", "json").json()
    assert [r["number"] for r in releases] == [3, 2, 1]
    assert [r["source"] for r in releases] == ["deploy", "config", "deploy"]
    assert releases[2]["message"] == "first"
    table = deployer.ok("list", "releases", "--app", "api").out
    assert re.search(r"^3\s+active\s+deploy", table, re.M)

    answers, stop = _keep_requesting(deploy_platform)
    try:
        started = time.monotonic()
        data = deployer.ok("rollback", "--app", "api", "--to", "1", "-o", "json").json()
        took = time.monotonic() - started
    finally:
        stop.set()
    assert data["status"] == "active" and data["rolled_back_to"] == 1 and data["release"] == 4
    assert data["env_changed"] == ["GREETING"]  # release 1 ran before it was set
    assert 0 < data["duration_s"] <= took, data  # seconds, within rig's run (how few: bench)
    assert answers and all(code == 200 for code, _ in answers), answers
    assert fetch(deploy_platform, HOST).text == "hello from v1\n"  # release 1's environment
    run = deployer.ok("rollback", "--app", "api")
    assert re.fullmatch(
        r"Rolled back api to release 3 \(as release 5, active\) in [\d.]+ s\n", run.out
    )


def _keep_requesting(platform: Platform) -> tuple[list[tuple[int, str]], threading.Event]:
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def loop() -> None:
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                response = fetch(platform, HOST)
                answers.append((response.status_code, response.text))
            except httpx.HTTPError as exc:
                answers.append((0, repr(exc)))
            time.sleep(0.02)

    threading.Thread(target=loop, daemon=True).start()
    deadline = time.monotonic() + 15
    while not answers:  # answering before the change
        assert time.monotonic() < deadline, "no answer from the app"
        time.sleep(0.01)
    return answers, stop


def test_status_and_lifecycle(deployer: Rig, deploy_platform: Platform, tmp_path: Path) -> None:
    deployer.ok("create", "network", "life")
    source = write_app(tmp_path / "web", "v1")
    deployer.ok("deploy", str(source), "--app", "web", "--network", "life", "--create")
    host = "web.life.localhost"

    status = deployer.ok("status", "app", "web", "-o", "json").json()
    assert status["state"] == "running" and status["release"] == 1 and status["health"] == "passing"
    text = deployer.ok("status", "app", "web").out
    assert re.search(r"State:\s+running", text) and re.search(r"Memory:\s+[\d.]+ MiB", text)
    assert re.search(r"Uptime:\s+\d+s", text) and "http://web.life.localhost:" in text
    network = deployer.ok("status", "network", "life", "-o", "json").json()
    assert [a["app"] for a in network["apps"]] == ["web"]
    assert "running" in deployer.ok("status", "network", "life").out
    dashboard = deployer.ok("status", "dashboard", "-o", "json").json()
    assert dashboard["totals"]["apps"] >= 1
    assert re.search(r"^life\s+web\s+running", deployer.ok("status", "dashboard").out, re.M)

    run = deployer.ok("stop", "app", "web")
    assert run.out.strip() == "Stopped app web (network life): stopped, release 1"
    stopped = fetch(deploy_platform, host)
    assert stopped.status_code == 503 and "No app is serving at" in stopped.text
    assert deployer.ok("status", "app", "web", "-o", "json").json()["state"] == "stopped"
    assert deployer.ok("start", "app", "web", "-o", "json").json()["state"] == "running"
    assert fetch(deploy_platform, host).text == "hello from v1\n"
    restarted = deployer.ok("restart", "app", "web").out
    assert restarted.startswith("Restarted app web (network life): running")
    assert fetch(deploy_platform, host).status_code == 200
    assert deployer.ok("restart", "app", "web", "-o", "json").json()["state"] == "running"
    for args in (("logs", "build", "web"), ("logs", "network", "life"), ("logs", "app", "web")):
        lines = deployer.ok(*args, "-o", "json").out.splitlines()
        assert lines, args
        for line in lines:
            assert {"seq", "ts", "app", "stream", "line"} <= set(json.loads(line))
    network_lines = deployer.ok("logs", "network", "life").out
    assert re.search(r"^\S+ web\[web\.1\] stdout\| listening on", network_lines, re.M)


def test_a_crashing_app_fails_the_deploy_with_its_log_tail(
    deployer: Rig, deploy_platform: Platform, tmp_path: Path
) -> None:
    deployer.ok("create", "network", "crash")
    good = write_app(tmp_path / "good", "good")
    deployer.ok("deploy", str(good), "--app", "boom", "--network", "crash", "--create")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "Procfile").write_text("web: python crash.py\n")
    (bad / "crash.py").write_text("import sys\nprint('about to fail', flush=True)\nsys.exit(3)\n")

    started = time.monotonic()
    run = deployer("deploy", str(bad), "--app", "boom")
    assert run.code == 1, str(run)
    assert time.monotonic() - started < HEALTH_TIMEOUT / 5  # at the exit, not the timeout
    assert "about to fail" in run.err
    assert re.search(r"rig: release 2 of boom failed during start: .+\(hint: ", run.err)
    assert "Traceback" not in run.err
    assert fetch(deploy_platform, "boom.crash.localhost").text == "hello from good\n"

    run = deployer("deploy", str(bad), "--app", "boom", "-o", "json")
    assert run.code == 1 and run.out == ""
    error = run.error_json()["error"]
    assert error["code"] == "release_failed" and error["release"] == 3
    assert any("about to fail" in line for line in error["log_tail"])
    statuses = [
        r["status"] for r in deployer.ok("list", "releases", "--app", "boom", "-o", "json").json()
    ]
    assert statuses == ["failed", "failed", "active"]


def test_errors_have_their_exit_codes(
    deployer: Rig, deploy_platform: Platform, tmp_path: Path, rig: Rig
) -> None:
    source = write_app(tmp_path / "app", "v1")
    for args in (
        ("deploy", str(source), "--app", "nope"),
        ("list", "releases", "--app", "nope"),
        ("rollback", "--app", "nope"),
        ("status", "app", "nope"),
        ("restart", "app", "nope"),
        ("logs", "app", "nope"),
        ("logs", "build", "nope"),
        ("status", "network", "nope"),
    ):
        run = deployer(*args, "-o", "json")
        assert run.code == 4, str(run)
        assert run.error_json()["error"]["code"] == "not_found"
    run = deployer("deploy", str(source), "--app", "nope")
    assert run.code == 4 and "--create" in run.err
    assert deployer("logs", "app", "nope", "--grep", "(").code == 2
    assert deployer("deploy", str(tmp_path / "missing"), "--app", "x").code != 0

    rig.env["RIG_API"] = deploy_platform.url
    for args in (
        ("deploy", str(source), "--app", "api"),
        ("status", "dashboard"),
        ("logs", "app", "api"),
    ):
        run = rig(*args)
        assert run.code == 3, str(run)
