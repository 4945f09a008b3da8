"""Deploys on a real platform over HTTP: upload, build, start, route, config, rollback."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.conftest import (
    EVERY_RUNTIME,
    HEALTH_TIMEOUT,
    PY,
    Api,
    archive,
    routed,
    wait_for,
    web_app,
)
from tests.support.platform import Platform

pytestmark = EVERY_RUNTIME


def test_deploy_builds_runs_and_answers_through_the_router(
    api: Api, shared_platform: Platform
) -> None:
    network, app = api.new_app()
    assert routed(shared_platform, network, app).status_code == 503
    started = time.monotonic()
    release = api.deploy(
        network,
        app,
        web_app("v1", build="echo compiling assets; echo built > built.txt"),
        message="first",
        commit="9f2c1e",
        branch="main",
        dirty="false",
    )
    deployed_in = time.monotonic() - started
    assert release["status"] == "active", release
    assert release["number"] == 1 and release["source"] == "deploy"
    assert release["artifact_release"] == 1 and release["message"] == "first"
    assert release["git"] == {"commit": "9f2c1e", "branch": "main", "dirty": False}
    assert release["error"] is None and release["finished_at"]
    print(f"small app deployed in {deployed_in:.2f} s")

    response = routed(shared_platform, network, app)
    assert response.status_code == 200 and response.text == "hello from v1\n"
    curl = shutil.which("curl")  # a real HTTP client resolving *.localhost: never skipped
    assert curl, "curl is needed (scripts/install-system-deps installs it)"
    url = f"http://{app}.{network}.localhost:{shared_platform.port}/"
    fetched = subprocess.run(
        [curl, "-sS", "--noproxy", "*", "--max-time", "10", url],
        capture_output=True,
        text=True,
    )
    assert fetched.stdout == "hello from v1\n", fetched.stderr

    wait_for(lambda: any("served /" in r["line"] for r in api.logs(network, app)), what="logs")
    lines = api.logs(network, app)
    assert any(r["line"].startswith("listening on") for r in lines)
    assert all(
        set(r) == {"seq", "ts", "app", "stream", "line", "process", "instance"} for r in lines
    )
    served = next(r for r in lines if "served /" in r["line"])
    assert (served["process"], served["instance"]) == ("web", "web.1")
    assert {r["app"] for r in lines} == {app}
    assert [r["seq"] for r in lines] == sorted(r["seq"] for r in lines)
    build = api.logs(network, app, "build")
    assert {"stream": "build", "line": "compiling assets", "release": 1}.items() <= next(
        r for r in build if r["stream"] == "build"
    ).items()

    status = api.status(network, app)
    assert status["state"] == "running" and status["health"] == "passing"
    assert status["release"] == 1 and status["restarts"] == 0
    assert status["url"] == f"http://{app}.{network}.localhost:{shared_platform.port}/"
    assert status["memory_rss"] > 0 and status["uptime_s"] >= 0
    [web] = status["processes"]
    assert web["name"] == "web" and len(web["pids"]) == 1 and web["port"]
    details = api.http.get(f"/networks/{network}/apps/{app}").json()
    assert details["state"] == "running" and details["url"] == status["url"]

    metrics = httpx_text(f"{shared_platform.url}/metrics", dict(api.http.headers))
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    labels = {"network": network, "app": app}
    samples = {
        s.name: s.value
        for family in families.values()
        for s in family.samples
        if s.labels == labels
    }
    assert samples["maxlocal_app_up"] == 1
    assert samples["maxlocal_app_requests_total"] >= 1
    assert samples["maxlocal_app_memory_bytes"] > 0
    assert "maxlocal_app_restarts_total" in samples and "maxlocal_app_cpu_percent" in samples


def httpx_text(url: str, headers: dict[str, str]) -> str:
    response = httpx.get(url, headers=headers, trust_env=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_var_change_makes_a_config_release_and_the_app_serves_it(
    api: Api, shared_platform: Platform
) -> None:
    network, app = api.new_app()
    api.deploy(network, app, web_app("v1"))
    scope = f"/networks/{network}/apps/{app}"

    response = api.http.patch(f"{scope}/vars", json={"vars": {"GREETING": "bonjour"}})
    assert response.status_code == 200
    number = int(response.headers["X-Release"])
    release = api.wait(network, app, number)
    assert release["status"] == "active" and release["source"] == "config"
    assert release["artifact_release"] == 1
    assert release["env_keys"] == {"vars": ["GREETING"], "secrets": []}
    assert routed(shared_platform, network, app).text == "bonjour from v1\n"
    assert api.release(network, app, 1)["status"] == "superseded"

    secret = api.http.patch(f"{scope}/secrets", json={"secrets": {"TOKEN": "s3cret"}})
    secret_release = api.wait(network, app, int(secret.headers["X-Release"]))
    assert secret_release["env_keys"] == {"vars": ["GREETING"], "secrets": ["TOKEN"]}
    assert "s3cret" not in str(api.http.get(f"{scope}/releases").json())

    quiet = api.http.patch(
        f"{scope}/vars", json={"vars": {"GREETING": "hola"}}, params={"restart": "false"}
    )
    assert quiet.status_code == 200 and "X-Release" not in quiet.headers
    assert routed(shared_platform, network, app).text == "bonjour from v1\n"

    removed = api.http.delete(f"{scope}/vars/GREETING")
    assert removed.status_code == 204
    api.wait(network, app, int(removed.headers["X-Release"]))
    assert routed(shared_platform, network, app).text == "hello from v1\n"


def test_redeploy_then_roll_back_without_dropping_requests(
    api: Api, shared_platform: Platform
) -> None:
    network, app = api.new_app()
    api.deploy(network, app, web_app("v1"))
    assert api.deploy(network, app, web_app("v2"))["status"] == "active"
    assert routed(shared_platform, network, app).text == "hello from v2\n"

    answers: list[tuple[float, int, str]] = []
    done = threading.Event()

    def hammer() -> None:
        while not done.is_set():
            response = routed(shared_platform, network, app)
            answers.append((time.monotonic(), response.status_code, response.text))

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        wait_for(lambda: len(answers) > 10)
        response = api.http.post(f"/networks/{network}/apps/{app}/rollback", json={})
        assert response.status_code == 202, response.text
        wait_for(lambda: answers[-1][2] == "hello from v1\n", timeout=30, what="rollback")
        switched = len(answers)  # how soon is the bench's rollback figure
        wait_for(lambda: len(answers) > switched + 10, what="answers after the switch")
    finally:
        done.set()
        thread.join()
    assert {status for _, status, _ in answers} == {200}
    release = api.wait(network, app, response.json()["number"])
    assert release["status"] == "active" and release["source"] == "rollback"
    assert release["artifact_release"] == 1
    assert [
        r["number"] for r in api.http.get(f"/networks/{network}/apps/{app}/releases").json()
    ] == [
        3,
        2,
        1,
    ]
    again = api.http.post(f"/networks/{network}/apps/{app}/rollback", json={"to": 2})
    assert api.wait(network, app, again.json()["number"])["artifact_release"] == 2
    missing = api.http.post(f"/networks/{network}/apps/{app}/rollback", json={"to": 99})
    assert missing.status_code == 404


def test_corrupted_upload_is_refused_and_changes_nothing(
    api: Api, shared_platform: Platform
) -> None:
    network, app = api.new_app()
    api.deploy(network, app, web_app("v1"))
    artifacts = shared_platform.data_dir / "artifacts" / network / app
    before = sorted(p.name for p in artifacts.iterdir())

    data = web_app("v2")
    response = api.upload(network, app, data, checksum="0" * 64)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "checksum_mismatch"
    assert len(api.http.get(f"/networks/{network}/apps/{app}/releases").json()) == 1
    assert sorted(p.name for p in artifacts.iterdir()) == before
    assert routed(shared_platform, network, app).text == "hello from v1\n"


def test_path_traversal_archive_fails_and_the_running_release_keeps_serving(
    api: Api, shared_platform: Platform
) -> None:
    network, app = api.new_app()
    api.deploy(network, app, web_app("v1"))
    evil = tarfile.TarInfo("../../escaped.txt")
    evil.size = 1
    release = api.deploy(network, app, archive({"Procfile": "web: true\n"}, [evil]))
    assert release["status"] == "failed"
    assert release["error"]["phase"] == "unpack"
    assert "traversal" in release["error"]["reason"]
    assert routed(shared_platform, network, app).text == "hello from v1\n"
    assert api.status(network, app)["release"] == 1
    assert not (shared_platform.data_dir / "releases" / network / app / "2").exists()
    assert not list(shared_platform.data_dir.parent.rglob("escaped.txt"))


def test_an_app_that_exits_at_start_fails_fast_with_its_output(
    api: Api, shared_platform: Platform
) -> None:
    network, app = api.new_app()
    crash = f"web: {PY} -c \"print('cannot find DATABASE_URL'); raise SystemExit(3)\"\n"
    started = time.monotonic()
    release = api.deploy(network, app, web_app("v1", procfile=crash))
    assert time.monotonic() - started < HEALTH_TIMEOUT / 5  # at the exit, not the timeout
    assert release["status"] == "failed" and release["error"]["phase"] == "start"
    assert "exited with code 3" in release["error"]["reason"]
    assert "cannot find DATABASE_URL" in release["error"]["log_tail"]
    status = api.status(network, app)
    assert status["state"] == "failed" and status["health"] == "failing"
    assert status["release"] is None
    assert routed(shared_platform, network, app).status_code == 503


def test_stop_answers_503_and_start_serves_again(api: Api, shared_platform: Platform) -> None:
    network, app = api.new_app()
    scope = f"/networks/{network}/apps/{app}"
    assert api.http.post(f"{scope}/stop").status_code == 409
    api.deploy(network, app, web_app("v1"))

    stopped = api.http.post(f"{scope}/stop")
    assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
    response = routed(shared_platform, network, app)
    assert response.status_code == 503 and "No app is serving at" in response.text

    started = api.http.post(f"{scope}/start")
    assert started.status_code == 200 and started.json()["state"] == "running"
    assert routed(shared_platform, network, app).text == "hello from v1\n"

    pid = api.status(network, app)["processes"][0]["pids"][0]
    restarted = api.http.post(f"{scope}/restart").json()
    assert restarted["state"] == "running" and restarted["processes"][0]["pids"] != [pid]
    assert routed(shared_platform, network, app).status_code == 200


def test_log_filters(api: Api, shared_platform: Platform) -> None:
    network, app = api.new_app()
    api.deploy(network, app, web_app("v1"))
    for path in ("/a", "/b", "/c"):
        routed(shared_platform, network, app, path)
    wait_for(lambda: any("/c" in r["line"] for r in api.logs(network, app)), what="logs")
    assert [r["line"] for r in api.logs(network, app, grep="served /[ab]", regex="true")] == [
        "served /a",
        "served /b",
    ]
    assert [r["line"] for r in api.logs(network, app, grep="served /b")] == ["served /b"]
    assert api.logs(network, app, grep="served /[ab]") == []  # without regex: the text itself
    last = api.logs(network, app, tail=1)
    assert len(last) == 1
    assert api.logs(network, app, after=last[0]["seq"]) == []
    assert len(api.logs(network, app, since="10m")) == len(api.logs(network, app))
    assert api.logs(network, app, since="2999-01-01T00:00:00Z") == []
    bad = api.http.get(
        f"/networks/{network}/apps/{app}/logs", params={"grep": "(", "regex": "true"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    tagged = api.http.get(f"/networks/{network}/logs", params={"grep": "served"}).json()
    assert {r["app"] for r in tagged} == {app} and len(tagged) == 3
    assert api.logs(network, app, "build", release=1)
    assert api.logs(network, app, "build", release=2) == []
