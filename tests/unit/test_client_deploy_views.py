"""Releases, rollback, lifecycle, status, logs and config-restart notices; units and progress."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from rig.api import releases as watching
from rig.cli import parse_since
from rig.commands import logs
from rig.errors import RigError, UsageError
from rig.output.progress import NoProgress, ProgressBar, progress_bar
from rig.output.releases import restart_notice
from rig.output.units import counted, human_bytes, human_duration, human_percent, human_seconds
from rig.targets import Scope
from tests.unit.test_client_deploy import APP, FakePlatform, make_ctx, release, run

STATUS = {
    "app": "api",
    "network": "shop",
    "state": "running",
    "release": 3,
    "restarts": 2,
    "uptime_s": 3725.4,
    "cpu_percent": 0.25,
    "memory_rss": 24510464,
    "health": "passing",
    "url": "http://api.shop.localhost:7400/",
    "processes": [{"name": "web", "pids": [1234], "port": 41001}],
}


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watching, "POLL_S", 0.0)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (24510464, "23.4 MiB"), (None, "-")],
)
def test_human_bytes(value: Any, text: str) -> None:
    assert human_bytes(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0s"), (42.9, "42s"), (192, "3m 12s"), (3725, "1h 2m"), (90000, "1d 1h"), (None, "-")],
)
def test_human_duration(value: Any, text: str) -> None:
    assert human_duration(value) == text


def test_human_percent_and_seconds() -> None:
    assert human_percent(12.34) == "12.3%"
    assert human_percent(None) == "-"
    assert human_seconds(0.84) == "0.8 s" and human_seconds(125) == "2m 5s"


def test_counted_says_one_thing_in_the_singular() -> None:
    assert [counted(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]
    assert (
        counted(1, "entry", "entries") == "1 entry"
        and counted(3, "entry", "entries") == "3 entries"
    )


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_only() -> None:
    ctx = make_ctx(FakePlatform())
    assert isinstance(progress_bar(ctx, "Uploading", 10), NoProgress)
    ctx.stderr = Tty()
    assert isinstance(progress_bar(ctx, "Uploading", 10), ProgressBar)
    ctx.output = "json"
    assert isinstance(progress_bar(ctx, "Uploading", 10), NoProgress)


def test_progress_bar_redraws_at_most_every_tenth_of_a_second() -> None:
    now = [0.0]
    stream = Tty()
    bar = ProgressBar(stream, "Uploading", 2048, clock=lambda: now[0])
    bar(512)
    bar(600)  # too soon: not drawn
    now[0] = 1.0
    bar(2048)  # done: drawn
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n")
    last = text.split("\r")[-1]
    assert "100%" in last and "2.0 KiB/2.0 KiB" in last and "#" * 28 in last
    assert "\x1b[32m" not in text
    coloured = ProgressBar(Tty(), "x", 10, color=True, clock=lambda: 0.0)
    assert "\x1b[32m" in coloured.render(1.0)


def test_list_releases_shows_git_and_status() -> None:
    platform = FakePlatform()
    git = {"commit": "9f2c4e1aa", "branch": "main", "dirty": True}
    platform.routes[("GET", f"{APP}/releases")] = [
        release(2, "active", source="deploy", message="Fix", git=git, created_by="a@b.c"),
        release(1, "superseded", source="deploy", message=None, git=None, created_by="a@b.c"),
    ]
    out = run(make_ctx(platform), "list", "releases", "--app", "api")
    header, _, first, second = out.splitlines()[:4]
    assert header.split()[:4] == ["RELEASE", "STATUS", "SOURCE", "MESSAGE"]
    assert "9f2c4e1 main (dirty)" in first and "active" in first
    assert second.split()[:2] == ["1", "superseded"]
    data = json.loads(run(make_ctx(platform, output="json"), "list", "releases", "--app", "api"))
    assert data[0]["git"] == git


def test_rollback_follows_the_new_release() -> None:
    platform = FakePlatform()
    bodies: list[Any] = []

    def post(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.read()))
        answer = release(5, "pending", artifact_release=2)
        return httpx.Response(202, json={**answer, "rolled_back_to": 2})

    platform.routes[("POST", f"{APP}/rollback")] = post
    platform.routes[("GET", f"{APP}/releases/5")] = lambda r: httpx.Response(
        200, json=release(5, "active", artifact_release=2, source="rollback")
    )
    out = run(make_ctx(platform), "rollback", "--app", "api", "--to", "2")
    assert bodies == [{"to": 2}]
    assert out.startswith("Rolled back api to release 2 (as release 5, active) in ")
    data = json.loads(run(make_ctx(platform, output="json"), "rollback", "--app", "api"))
    assert bodies[-1] == {} and data["rolled_back_to"] == 2 and data["status"] == "active"
    assert data["env_changed"] == [] and "environment" not in out
    assert not any(p.endswith("/logs/build") for p in platform.paths())

    def post_changed(request: httpx.Request) -> httpx.Response:
        changed = release(5, "pending", artifact_release=2)
        answer = {**changed, "env_changed": ["DB_URL", "TOKEN"], "rolled_back_to": 2}
        return httpx.Response(202, json=answer)

    platform.routes[("POST", f"{APP}/rollback")] = post_changed
    out = run(make_ctx(platform), "rollback", "--app", "api")
    assert "It runs with release 2's environment, not the current one: DB_URL, TOKEN differ." in out
    assert "`rig list vars --app api`" in out


def test_lifecycle_actions() -> None:
    platform = FakePlatform()
    for verb, state in (("restart", "running"), ("stop", "stopped"), ("start", "running")):
        platform.routes[("POST", f"{APP}/{verb}")] = {**STATUS, "state": state}
        out = run(make_ctx(platform), verb, "app", "api")
        assert out.strip().endswith(f"app api (network shop): {state}, release 3")
    platform.routes[("POST", f"{APP}/start")] = {**STATUS, "state": "crashed"}
    with pytest.raises(RigError) as info:
        run(make_ctx(platform), "start", "app", "api")
    assert "crashed" in info.value.message and "rig logs app api" in info.value.hint


def test_lifecycle_uses_the_selected_app() -> None:
    platform = FakePlatform()
    platform.routes[("POST", f"{APP}/restart")] = STATUS
    run(make_ctx(platform, network="shop", app="api"), "restart", "app")
    assert platform.paths("POST") == [f"{APP}/restart"]
    with pytest.raises(UsageError):
        run(make_ctx(platform), "restart", "app")


def test_status_app_is_humanised_for_people_and_raw_in_json() -> None:
    platform = FakePlatform()
    platform.routes[("GET", f"{APP}/status")] = STATUS
    out = run(make_ctx(platform), "status", "app", "api")
    for text in ("running", "1h 2m", "23.4 MiB", "passing", "http://api.shop.localhost:7400/"):
        assert text in out
    assert "Restarts:" in out and "web" in out and "41001" in out
    assert json.loads(run(make_ctx(platform, output="json"), "status", "app", "api")) == STATUS


def test_status_network_and_dashboard() -> None:
    platform = FakePlatform()
    platform.routes[("GET", "/api/v1/networks/shop/status")] = {"network": "shop", "apps": [STATUS]}
    out = run(make_ctx(platform), "status", "network", "shop")
    assert "Apps:" in out and "23.4 MiB" in out and "1h 2m" in out
    dashboard = {
        "networks": [{"name": "shop", "apps": [STATUS]}, {"name": "empty", "apps": []}],
        "totals": {"networks": 2, "apps": 1, "running": 1, "failing": 0},
    }
    platform.routes[("GET", "/api/v1/status")] = dashboard
    out = run(make_ctx(platform), "status", "dashboard")
    assert out.splitlines()[0] == "2 networks, 1 app: 1 running, 0 failing"
    assert out.splitlines()[1].split()[:3] == ["NETWORK", "APP", "STATE"]
    assert out.splitlines()[3].split()[:3] == ["shop", "api", "running"]
    assert json.loads(run(make_ctx(platform, output="json"), "status", "dashboard")) == dashboard


LINES = [
    {"seq": 7, "ts": "2026-01-01T00:00:00Z", "app": "api", "stream": "stdout", "line": "hello"},
    {"seq": 8, "ts": "2026-01-01T00:00:01Z", "app": "api", "stream": "stderr", "line": "oops"},
]


def test_logs_human_and_ndjson() -> None:
    platform = FakePlatform()
    platform.routes[("GET", f"{APP}/logs")] = LINES
    out = run(make_ctx(platform, color=False), "logs", "app", "api", "--tail", "2", "--grep", "h|o")
    assert out.splitlines() == [
        "2026-01-01T00:00:00Z api stdout| hello",
        "2026-01-01T00:00:01Z api stderr| oops",
    ]
    (request,) = [r for r in platform.requests if r.url.path.endswith("/logs")]
    assert dict(request.url.params) == {"tail": "2", "grep": "h|o", "regex": "true"}
    coloured = run(make_ctx(platform, color=True), "logs", "app", "api").splitlines()
    assert "\x1b[" in coloured[0] and "\x1b[31moops" in coloured[1]
    out = run(make_ctx(platform, output="json"), "logs", "app", "api", "-o", "json")
    assert [json.loads(line) for line in out.splitlines()] == LINES


def test_build_and_network_logs_share_the_command() -> None:
    platform = FakePlatform()
    platform.routes[("GET", f"{APP}/logs/build")] = []
    platform.routes[("GET", "/api/v1/networks/shop/logs")] = LINES
    out = run(make_ctx(platform), "logs", "build", "api", "--release", "3")
    assert out.strip() == "(no log lines in the build log of app api (network shop))"
    build = next(r for r in platform.requests if r.url.path.endswith("/build"))
    assert build.url.params["release"] == "3"
    assert "hello" in run(make_ctx(platform), "logs", "network", "shop", "--since", "10m")


def test_a_follow_source_continues_after_the_last_stored_seq() -> None:
    platform = FakePlatform()
    platform.routes[("GET", f"{APP}/logs")] = LINES
    seen: list[int | None] = []

    def follow(ctx: Any, target: logs.LogTarget, after: int | None) -> list[dict[str, Any]]:
        seen.append(after)
        return [{**LINES[1], "seq": 9, "line": "live"}]

    ctx = make_ctx(platform)
    result = logs.show_logs(ctx, logs.LogTarget("app", "shop", "api"), logs.LogQuery(), follow)
    assert [r["line"] for r in result.lines or []] == ["hello", "oops", "live"]
    assert seen == [8]


@pytest.mark.parametrize("text", ["10m", "2h", "30s", "1d", "1.5h"])
def test_since_durations_pass_through(text: str) -> None:
    assert parse_since(text) == text


def test_since_times_become_utc() -> None:
    assert parse_since("2026-11-25T19:50:00Z") == "2026-11-25T19:50:00Z"
    assert parse_since("2026-11-25T20:50:00+01:00") == "2026-11-25T19:50:00Z"
    local = datetime(2026, 11, 25, 19, 50).astimezone()
    expected = local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parse_since("2026-11-25T19:50:00") == expected


@pytest.mark.parametrize("text", ["yesterday", "10", "m10", ""])
def test_bad_since_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_since(text)


def test_bad_grep_and_tail_are_refused_before_any_request() -> None:
    platform = FakePlatform()
    with pytest.raises(UsageError) as info:
        run(make_ctx(platform), "logs", "app", "api", "--grep", "(")
    assert "not a regular expression" in info.value.message
    with pytest.raises(UsageError):
        run(make_ctx(platform), "logs", "app", "api", "--tail", "0")
    assert platform.requests == []


def test_restart_notice() -> None:
    app, network = Scope("shop", "api"), Scope("shop")
    assert restart_notice(app, ["A"], []) == ""
    assert restart_notice(app, ["A", "B"], [("api", "4")]) == (
        "\nRestarting api with changed keys: A, B (release 4)"
    )
    listing = [{"key": "DB_PASSWORD", "digest": "3f9a1c0b7e2d"}]
    assert restart_notice(network, ["DB_PASSWORD"], [("api", "4"), ("web", "7")], listing) == (
        "\nRestarting the apps of network shop with changed keys: "
        "DB_PASSWORD (digest 3f9a1c0b7e2d) (api release 4, web release 7)"
    )
    assert restart_notice(network, ["A"], [(None, "4")]).endswith("(release 4)")


def test_config_changes_say_what_restarts_and_honour_no_restart() -> None:
    platform = FakePlatform()
    calls: list[httpx.Request] = []

    def patch(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        restart = request.url.params.get("restart") != "false"
        headers = {"X-Release": "4"} if restart else {}
        return httpx.Response(200, json=[{"key": "LOG_LEVEL", "value": "debug"}], headers=headers)

    platform.routes[("PATCH", f"{APP}/vars")] = patch
    out = run(make_ctx(platform), "create", "var", "LOG_LEVEL=debug", "--app", "api")
    assert out.splitlines() == [
        "Set 1 var on app api (network shop): LOG_LEVEL",
        "Restarting api with changed keys: LOG_LEVEL (release 4)",
    ]
    out = run(make_ctx(platform), "create", "var", "LOG_LEVEL=x", "--app", "api", "--no-restart")
    assert out.splitlines() == ["Set 1 var on app api (network shop): LOG_LEVEL"]
    assert calls[-1].url.params["restart"] == "false"
