"""``rig deploy --image`` end to end: a platform on the swarm runtime, a local registry with
credentials stored by ``rig create registry``, images without python3; served through the
router with the app's variables, a second version, a rollback to the first (its digest), a
remote command in it, and the errors of a missing image, refused credentials and an
unreachable registry, each one line with its exit code."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import docker
import pytest

from maxlocal.runtime.sandbox import app_uid
from maxlocal.strays import marker_for
from tests.deploy.conftest import HEALTH_TIMEOUT, routed, wait_for
from tests.image.conftest import Foreign
from tests.support.cli import Rig, single_error_line
from tests.support.platform import PlatformFactory
from tests.support.registry import Registry, free_port

pytestmark = [pytest.mark.swarm, pytest.mark.slow]


def test_image_deploy_on_swarm_serves_rolls_back_and_says_registry_errors(
    docker_client: object,
    platform_factory: PlatformFactory,
    make_rig: Callable[[], Rig],
    local_registry: Registry,
    push_foreign: Callable[[str, str], Foreign],
) -> None:
    name = f"shop{uuid.uuid4().hex[:6]}"
    v1, v2 = push_foreign(name, "v1"), push_foreign(name, "v2")
    platform = platform_factory(runtime="swarm", health_timeout=HEALTH_TIMEOUT)
    rig = make_rig()
    login = platform.bootstrap()
    rig.login(platform, login["email"], login["password"])
    rig.ok("create", "network", "shop")
    rig.ok("create", "app", "api", "--network", "shop")
    rig.ok("create", "var", "GREETING=hello from the platform", "--app", "api", "--network", "shop")
    rig.ok(
        "create", "registry", local_registry.address, "-u", local_registry.user,
        input=local_registry.password,
    )  # fmt: skip

    first = rig.ok("deploy", "--image", v1.ref, "--app", "api", "--network", "shop", "-o", "json")
    deployed = first.json()
    assert deployed["status"] == "active", str(first)
    assert deployed["digest"] == v1.digest_ref and deployed["image"] == v1.ref
    body = routed(platform, "shop", "api", "/cgi-bin/hello").text.strip()
    greeting, uid, _, cwd, version = body.split("|")
    assert (greeting, cwd, version) == ("hello from the platform", "/www/cgi-bin", "v1")
    assert int(uid) == app_uid(1)  # the platform's first app, not the image's root

    second = rig.ok("deploy", "--image", v2.ref, "--app", "api", "--network", "shop", "-o", "json")
    assert second.json()["release"] == 2
    assert routed(platform, "shop", "api", "/cgi-bin/hello").text.strip().endswith("|v2")

    back = rig.ok("rollback", "--app", "api", "--network", "shop", "-o", "json").json()
    assert back["rolled_back_to"] == 1 and back["status"] == "active"
    assert routed(platform, "shop", "api", "/cgi-bin/hello").text.strip().endswith("|v1")
    releases = rig.ok("list", "releases", "--app", "api", "--network", "shop", "-o", "json").json()
    digests = {r["number"]: (r["image"] or {}).get("digest") for r in releases}
    assert digests == {1: v1.digest_ref, 2: v2.digest_ref, 3: v1.digest_ref}
    table = rig.ok("list", "releases", "--app", "api", "--network", "shop").out
    assert f"{name}@sha256:{v1.digest_ref.rpartition(':')[2][:12]}" in table

    # a platform restart adopts the running image release: same task, no new release
    engine_client: docker.DockerClient = docker_client  # type: ignore[assignment]
    mine = {"service": f"rig{marker_for(platform.data_dir)[:10]}a1", "desired-state": "running"}
    tasks = {t["ID"] for t in engine_client.api.tasks(filters=mine)}
    assert len(tasks) == 1
    platform.restart()
    assert routed(platform, "shop", "api", "/cgi-bin/hello").text.strip().endswith("|v1")
    assert {t["ID"] for t in engine_client.api.tasks(filters=mine)} == tasks
    listed = rig.ok("list", "releases", "--app", "api", "--network", "shop", "-o", "json")
    assert [r["number"] for r in listed.json()] == [3, 2, 1]

    # a var change is a config release of the same digest with the new value
    def greets(text: str) -> Callable[[], bool]:
        """The newest release is active (a var change does not wait for it) and serves."""

        def check() -> bool:
            listed = rig.ok("list", "releases", "--app", "api", "--network", "shop", "-o", "json")
            if listed.json()[0]["status"] != "active":
                return False
            return routed(platform, "shop", "api", "/cgi-bin/hello").text.startswith(text)

        return check

    rig.ok("create", "var", "GREETING=changed", "--app", "api", "--network", "shop")
    wait_for(greets("changed|"), timeout=HEALTH_TIMEOUT, what="the config release")
    rig.ok("create", "var", "GREETING=hello from the platform", "--app", "api", "--network", "shop")
    wait_for(greets("hello from the platform|"), timeout=HEALTH_TIMEOUT, what="the second one")

    command = rig("command", "--app", "api", "--network", "shop", "--", 'echo "$GREETING" $PWD')
    assert command.code == 0, str(command)
    assert command.out.strip() == "hello from the platform /www"

    missing = rig(
        "deploy", "--image", f"{local_registry.address}/{name}:v9", "--app", "api",
        "--network", "shop",
    )  # fmt: skip
    assert missing.code == 4, str(missing)
    assert "not found in its registry" in single_error_line(missing)
    refused = rig(
        "deploy", "--image", v1.ref, "--app", "api", "--network", "shop",
        "--registry-auth", local_registry.user, "-o", "json", input="not-the-password",
    )  # fmt: skip
    assert refused.code == 3, str(refused)
    assert refused.error_json()["error"]["code"] == "forbidden"
    gone = f"127.0.0.1:{free_port()}/x:1"
    unreachable = rig("deploy", "--image", gone, "--app", "api", "--network", "shop")
    assert unreachable.code == 1, str(unreachable)
    assert "is unreachable" in single_error_line(unreachable)
    after = rig.ok("list", "releases", "--app", "api", "--network", "shop", "-o", "json").json()
    assert len(after) == 5  # two config releases; nothing recorded for the refused deploys
    for run in (first, second, refused, command):
        assert local_registry.password not in run.out + run.err
    assert local_registry.password not in platform.log()
    assert "not-the-password" not in platform.log()

    # deleting the app removes its wrapped images and the pulled ones they were made from
    rig.ok("delete", "app", "api", "--network", "shop", "--yes")
    for pulled in (v1.digest_ref, v2.digest_ref):
        with pytest.raises(docker.errors.ImageNotFound):
            engine_client.api.inspect_image(pulled)
