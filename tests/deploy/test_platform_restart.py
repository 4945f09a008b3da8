"""The platform's own restarts: clean (SIGTERM) and after being killed mid-deploy."""

from __future__ import annotations

import psutil

from maxlocal.strays import marker_for, stray_groups
from tests.deploy.conftest import Api, new_api, routed, wait_for, web_app
from tests.support.platform import Platform, PlatformFactory


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def web_pid(api: Api, network: str, app: str) -> int:
    return api.status(network, app)["processes"][0]["pids"][0]


def running(api: Api, network: str, app: str) -> bool:
    status = api.status(network, app)
    return status["state"] == "running" and bool(status["processes"][0]["pids"])


def test_a_restarted_platform_starts_the_running_apps_again(
    platform_factory: PlatformFactory,
) -> None:
    platform = platform_factory()
    api = new_api(platform)
    network, app = api.new_app()
    api.deploy(network, app, web_app("v1"))
    stopped_network, stopped = api.new_app("quiet")
    api.deploy(stopped_network, stopped, web_app("q1"))
    api.http.post(f"/networks/{stopped_network}/apps/{stopped}/stop")
    old_pid = web_pid(api, network, app)
    slow = api.upload(network, app, web_app("v2", build="echo slow build; sleep 60"))
    wait_for(lambda: build_line(api, network, app), what="the build")

    platform.restart()

    assert gone(old_pid)
    wait_for(lambda: running(api, network, app), what="the app to run again")
    assert routed(platform, network, app).text == "hello from v1\n"
    assert api.status(stopped_network, stopped)["state"] == "stopped"
    assert routed(platform, stopped_network, stopped).status_code == 503
    assert api.status(network, app)["release"] == 1
    interrupted = api.release(network, app, slow.json()["number"])
    assert interrupted["error"] == {
        "reason": "platform restarted",
        "phase": "build",
        "log_tail": [],
    }
    assert len(stray_groups(marker_for(platform.data_dir))) == 1


def test_a_killed_platform_leaves_no_half_deployed_release_and_no_stray_process(
    platform_factory: PlatformFactory,
) -> None:
    platform = platform_factory()
    api = new_api(platform)
    network, app = api.new_app()
    api.deploy(network, app, web_app("v1"))
    old_pid = web_pid(api, network, app)
    upload = api.upload(network, app, web_app("v2", build="echo slow build; sleep 60"))
    number = upload.json()["number"]
    wait_for(lambda: build_line(api, network, app), what="the build")
    marker = marker_for(platform.data_dir)
    assert len(stray_groups(marker)) == 2  # the web process and the build

    kill(platform)
    assert not gone(old_pid)
    platform.restart()

    assert gone(old_pid)
    release = api.release(network, app, number)
    assert release["status"] == "failed"
    assert release["error"]["reason"] == "platform restarted"
    assert release["error"]["phase"] == "build"
    assert not (platform.data_dir / "releases" / network / app / str(number)).exists()
    assert not (platform.data_dir / "artifacts" / network / app / f"{number}.tar.gz").exists()
    wait_for(lambda: running(api, network, app), what="the app to run again")
    assert routed(platform, network, app).text == "hello from v1\n"
    assert len(stray_groups(marker)) == 1


def kill(platform: Platform) -> None:
    assert platform.process is not None
    platform.process.kill()
    platform.process.wait()


def build_line(api: Api, network: str, app: str) -> bool:
    """Whether the slow build has written its line."""
    return bool(api.logs(network, app, "build", grep="^slow build$", regex="true"))
