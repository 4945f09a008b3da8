"""deploy, releases, lifecycle, status and logs handlers against a scripted platform (no server)."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from rig.api import releases as watching
from rig.api.client import Api, LogPage
from rig.api.logs import LogSource
from rig.cli import build_parser
from rig.commands import deploy as deploy_cmd
from rig.context import Context
from rig.errors import ExitCode, NotFoundError, RigError, UsageError
from rig.output import render
from rig.transport.http import ApiClient, Tokens

APP = "/api/v1/networks/shop/apps/api"
APP_JSON = {
    "name": "api",
    "network": "shop",
    "hostname": "api.shop.localhost",
    "url": "http://api.shop.localhost:7400/",
    "state": "running",
}

Route = Callable[[httpx.Request], httpx.Response]


class FakePlatform:
    """Answers requests from ``routes[(method, path)]``; records every request and upload body."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route | Any] = {
            ("GET", "/api/v1/health"): {"status": "ok", "max_upload_bytes": 10**9},
            ("GET", "/api/v1/apps"): [APP_JSON],
            ("GET", APP): APP_JSON,
        }
        self.requests: list[httpx.Request] = []
        self.uploads: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST" and request.url.path.endswith("/releases"):
            self.uploads.append(request.read())
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            body = {"error": {"code": "not_found", "message": "no such thing", "hint": ""}}
            return httpx.Response(404, json=body)
        if callable(route):
            return route(request)
        return httpx.Response(200, json=route)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.url.path for r in self.requests if method in (None, r.method)]


def make_ctx(platform: FakePlatform, **options: Any) -> Context:
    ctx = Context(stdout=io.StringIO(), stderr=io.StringIO(), stdin=io.StringIO(), **options)
    client = ApiClient(
        "http://platform.test",
        Tokens("mxa_x"),
        transport=httpx.MockTransport(platform),
        tls=ctx.tls,  # the made-up host over plain http: RIG_INSECURE (tests/unit/conftest.py)
    )
    ctx.api_factory = lambda _: Api(client)
    return ctx


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def run(ctx: Context, *argv: str) -> str:
    args = parse(*argv)
    result = args.handler(ctx, args)
    render(result, ctx.output, ctx.stdout)
    return ctx.stdout.getvalue()  # type: ignore[attr-defined]


def release(number: int, status: str, **extra: Any) -> dict[str, Any]:
    return {"number": number, "app": "api", "network": "shop", "status": status, **extra}


def release_sequence(*statuses: str, number: int = 3, **extra: Any) -> Route:
    """Each GET of the release answers the next status, the last one forever."""
    remaining = list(statuses)

    def answer(request: httpx.Request) -> httpx.Response:
        status = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return httpx.Response(200, json=release(number, status, **extra))

    return answer


def accept_upload(number: int = 3) -> Route:
    def answer(request: httpx.Request) -> httpx.Response:
        body = request.read()
        assert request.headers["X-Checksum-Sha256"] == hashlib.sha256(body).hexdigest()
        assert request.headers["Content-Length"] == str(len(body))
        assert request.headers["Authorization"] == "Bearer mxa_x"
        assert request.headers["Idempotency-Key"]
        return httpx.Response(202, json=release(number, "pending"))

    return answer


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    (root / "Procfile").write_text("web: python app.py\n")
    (root / "app.py").write_text("print('hi')\n")
    (root / ".rigignore").write_text("*.log\n")
    (root / "debug.log").write_text("x" * 100)
    return root


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(watching, "POLL_S", 0.0)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    return temp


def test_dry_run_lists_files_and_exclusions_without_a_request(source: Path) -> None:
    platform = FakePlatform()
    ctx = make_ctx(platform)
    out = run(ctx, "deploy", str(source), "--dry-run")
    assert platform.requests == []
    assert "Would upload 3 files" in out and "Nothing was uploaded" in out
    assert "app.py" in out and "debug.log" in out and ".rigignore:1:*.log" in out
    ctx = make_ctx(platform, output="json")
    data = json.loads(run(ctx, "deploy", str(source), "--dry-run", "-o", "json"))
    assert [f["path"] for f in data["files"]] == [".rigignore", "Procfile", "app.py"]
    assert data["excluded"] == [{"path": "debug.log", "rule": ".rigignore:1:*.log"}]
    assert data["total_bytes"] == sum(f["size"] for f in data["files"])


def test_deploy_uploads_and_follows_until_active(source: Path, fast_polls: Path) -> None:
    platform = FakePlatform()
    platform.routes[("POST", f"{APP}/releases")] = accept_upload()
    platform.routes[("GET", f"{APP}/releases/3")] = release_sequence(
        "building", "starting", "active"
    )
    lines = [
        {"seq": 1, "ts": "t", "app": "api", "stream": "build", "line": "step one"},
        {"seq": 2, "ts": "t", "app": "api", "stream": "build", "line": "step two"},
    ]

    def build_log(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("after", 0))
        assert request.url.params["release"] == "3"
        return httpx.Response(200, json=[line for line in lines if line["seq"] > after])

    platform.routes[("GET", f"{APP}/logs/build")] = build_log
    ctx = make_ctx(platform)
    out = run(ctx, "deploy", str(source), "--app", "api", "--message", "first")
    assert "Deployed api release 3" in out and "http://api.shop.localhost:7400/" in out
    err = ctx.stderr.getvalue()  # type: ignore[attr-defined]
    assert err.count("build| step one") == 1 and err.count("build| step two") == 1
    assert "\x1b" not in err  # no progress bar: stderr is not a terminal
    (upload,) = [r for r in platform.requests if r.url.path.endswith("/releases")]
    assert parse_qs(upload.url.query.decode()) == {"message": ["first"]}
    with tarfile.open(fileobj=io.BytesIO(platform.uploads[0]), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == [".rigignore", "Procfile", "app.py"]
    assert list(fast_polls.iterdir()) == []  # the temporary archive is gone


def test_deploy_json_document(source: Path) -> None:
    platform = FakePlatform()
    platform.routes[("POST", f"{APP}/releases")] = accept_upload()
    platform.routes[("GET", f"{APP}/releases/3")] = release_sequence("active", message="m")
    platform.routes[("GET", f"{APP}/logs/build")] = []
    ctx = make_ctx(platform, output="json")
    data = json.loads(run(ctx, "deploy", str(source), "--app", "api", "-o", "json"))
    assert data["app"] == "api" and data["network"] == "shop" and data["release"] == 3
    assert data["status"] == "active" and data["url"] == APP_JSON["url"]
    assert data["checksum"] == hashlib.sha256(platform.uploads[0]).hexdigest()
    assert isinstance(data["duration_s"], float) and data["created_app"] is False
    assert ctx.stderr.getvalue() == ""  # type: ignore[attr-defined]


def test_detach_returns_after_the_upload(source: Path) -> None:
    platform = FakePlatform()
    platform.routes[("POST", f"{APP}/releases")] = accept_upload()
    ctx = make_ctx(platform, output="json")
    data = json.loads(run(ctx, "deploy", str(source), "--app", "api", "--detach", "-o", "json"))
    assert data["status"] == "pending"
    assert not any("/releases/" in p for p in platform.paths("GET"))


def test_git_metadata_and_default_message(source: Path) -> None:
    assert deploy_cmd.release_params(None, None) == {}
    git = {"commit": "abc", "branch": "main", "dirty": True, "subject": "Fix it"}
    assert deploy_cmd.release_params(None, git) == {
        "message": "Fix it",
        "commit": "abc",
        "branch": "main",
        "dirty": "true",
    }
    assert deploy_cmd.release_params("mine", {**git, "branch": None, "dirty": False}) == {
        "message": "mine",
        "commit": "abc",
        "dirty": "false",
    }


def test_an_archive_over_the_platform_limit_is_refused_before_uploading(source: Path) -> None:
    platform = FakePlatform()
    platform.routes[("GET", "/api/v1/health")] = {"status": "ok", "max_upload_bytes": 10}
    ctx = make_ctx(platform)
    with pytest.raises(UsageError) as info:
        run(ctx, "deploy", str(source), "--app", "api")
    assert info.value.exit_code == ExitCode.USAGE and "upload limit" in info.value.message
    assert ".rigignore" in info.value.hint
    assert platform.uploads == []


def test_a_failed_release_exits_1_with_the_log_tail(source: Path) -> None:
    platform = FakePlatform()
    platform.routes[("POST", f"{APP}/releases")] = accept_upload()
    error = {"reason": "web exited with 1", "phase": "start", "log_tail": ["Traceback", "boom"]}
    platform.routes[("GET", f"{APP}/releases/3")] = release_sequence("failed", error=error)
    platform.routes[("GET", f"{APP}/logs/build")] = []
    ctx = make_ctx(platform)
    with pytest.raises(watching.ReleaseFailed) as info:
        run(ctx, "deploy", str(source), "--app", "api")
    assert info.value.exit_code == 1
    assert "failed during start: web exited with 1" in info.value.message
    assert "rig logs app api" in info.value.hint
    assert "  | boom" in ctx.stderr.getvalue()  # type: ignore[attr-defined]
    body = info.value.to_json()["error"]
    assert body["log_tail"] == ["Traceback", "boom"] and body["release"] == 3


def test_unknown_app_needs_create(source: Path) -> None:
    platform = FakePlatform()
    platform.routes[("GET", "/api/v1/apps")] = []
    platform.routes[("GET", "/api/v1/networks")] = [{"name": "shop"}]
    with pytest.raises(NotFoundError) as info:
        run(make_ctx(platform), "deploy", str(source), "--app", "web")
    assert "--create" in info.value.hint
    created = {**APP_JSON, "name": "web", "url": "http://web.shop.localhost:7400/"}
    platform.routes[("POST", "/api/v1/networks/shop/apps")] = lambda r: httpx.Response(
        201, json=created
    )
    web = "/api/v1/networks/shop/apps/web"
    platform.routes[("POST", f"{web}/releases")] = accept_upload(1)
    platform.routes[("GET", f"{web}/releases/1")] = release_sequence("active", number=1)
    platform.routes[("GET", f"{web}/logs/build")] = []
    ctx = make_ctx(platform, output="json")
    data = json.loads(run(ctx, "deploy", str(source), "--app", "web", "--create", "-o", "json"))
    assert data["created_app"] is True and data["url"] == created["url"]


def test_ctrl_c_while_uploading_removes_the_archive(
    source: Path, fast_polls: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        assert len(list(fast_polls.iterdir())) == 1
        raise KeyboardInterrupt

    monkeypatch.setattr("rig.transport.upload.upload", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(make_ctx(FakePlatform()), "deploy", str(source), "--app", "api")
    assert list(fast_polls.iterdir()) == []


def test_a_large_bundle_warns_with_its_largest_paths(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rig.bundle.LARGE_BUNDLE_BYTES", 20)
    ctx = make_ctx(FakePlatform())
    run(ctx, "deploy", str(source), "--dry-run")
    err = ctx.stderr.getvalue()  # type: ignore[attr-defined]
    assert "warning: the bundle is" in err and "app.py (12 B)" in err and ".rigignore" in err


class ScriptedApi:
    """The two calls a poll makes, answering scripted statuses and build-log pages."""

    def __init__(self, statuses: list[str], pages: list[list[dict[str, Any]]]) -> None:
        self.statuses, self.pages = statuses, pages
        self.log_params: list[dict[str, Any]] = []

    def logs(self, source: LogSource, **query: Any) -> LogPage:
        assert source == LogSource("build", "shop", "api")
        self.log_params.append({k: v for k, v in query.items() if v is not None})
        return LogPage(self.pages.pop(0) if self.pages else [], None)  # type: ignore[arg-type]

    def release(self, network: str, app: str, number: int) -> dict[str, Any]:
        assert (network, app, number) == ("shop", "api", 3)
        return release(3, self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0])


def test_poll_release_passes_after_and_drains_the_log_at_the_end() -> None:
    lines = [{"seq": n, "line": f"l{n}"} for n in (1, 2, 3)]
    client = ScriptedApi(["building", "building", "active"], [[lines[0]], [], lines[1:]])
    seen: list[dict[str, Any]] = []
    done = watching.poll_release(client, "shop", "api", 3, seen.append, sleep=lambda s: None)  # type: ignore[arg-type]
    assert done["status"] == "active" and seen == lines
    assert client.log_params == [
        {"release": 3},
        {"release": 3, "after": 1},
        {"release": 3, "after": 1},
    ]


def test_poll_release_gives_up_after_its_timeout() -> None:
    client = ScriptedApi(["building"], [])
    clock = iter(range(100)).__next__
    with pytest.raises(RigError) as info:
        watching.poll_release(
            client,  # type: ignore[arg-type]
            "shop",
            "api",
            3,
            timeout=5,
            sleep=lambda s: None,
            clock=lambda: float(clock()),
        )
    assert "still building" in info.value.message
