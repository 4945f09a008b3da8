"""Image deploys on the real engine, from a local ``docker-registry`` with htpasswd auth
(tests/support/registry.py): an image with no python3 (busybox's httpd, a CGI script) is
resolved to its digest, pulled with the credentials, wrapped with the platform's launcher and
run as a service as the app's uid, its variables reaching it without showing in any inspect;
and the errors of a missing image, refused credentials and an unreachable registry, as the API
says them."""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path

import pytest

from maxlocal import errors
from maxlocal.runtime import imageref
from maxlocal.runtime.swarm import engine, imagedeploy, registry, services
from tests.image.conftest import Foreign, rootfs
from tests.support.registry import Registry, free_port

pytestmark = [pytest.mark.swarm, pytest.mark.slow]

UID = 20_002
TRICKY = 'it\'s "$HOME" `id`\nwith → ünïcode 😀'


def _get(address: str, path: str) -> str:
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode()
        assert response.status == 200, body
        return body.strip()
    finally:
        connection.close()


def test_image_from_a_registry_runs_with_its_variables_as_the_app_user(
    foreign: Foreign, local_registry: Registry, app_name: str
) -> None:
    ref = imageref.parse(foreign.ref)
    auth = imageref.RegistryAuth(local_registry.user, local_registry.password)
    assert local_registry.password not in repr(auth)
    with imagedeploy.session(ref, auth) as client:
        digest_ref = imagedeploy.resolve(client, ref)
        assert digest_ref == foreign.digest_ref
        assert imagedeploy.pull(client, digest_ref) == digest_ref
        wrapped = imagedeploy.wrap(
            client, digest_ref, app=app_name, network="n", release="r1", uid=UID
        )
        assert wrapped.command == ("sh", "-c", "exec busybox httpd -f -p $PORT -h /www")
        assert wrapped.workdir == "/www"
        variables = {"GREETING": "hello there", "TRICKY": TRICKY}
        spec = services.AppSpec(
            app=app_name,
            network="n",
            release="r1",
            image=wrapped.tag,
            command=wrapped.command,
            uid=UID,
            variables=variables,
            limits=services.Limits(memory=64 << 20, pids=64, cpus=0.5),
            health=services.Health(
                path=None,
                interval_s=0.5,
                start_period_s=20,
                command=tuple(imagedeploy.health_command(8000, 2.0)),
            ),
            stop_grace_s=1.0,
        )
        services.deploy(client, spec)
        (instance,) = services.wait_converged(client, app_name, "r1", 1, timeout=60)
        greeting, uid, tricky, cwd, version = _get(instance.address, "/cgi-bin/hello").split("|")
        assert (greeting, uid, cwd, version) == ("hello there", str(UID), "/www/cgi-bin", "v1")
        assert tricky == TRICKY

        # the values are in no inspect: service, task container, image (config and history)
        seen = json.dumps(
            [
                client.api.inspect_service(app_name),
                client.api.inspect_container(instance.container_id),
                client.api.inspect_image(wrapped.tag),
                client.api.history(wrapped.tag),
            ],
            ensure_ascii=False,
        )
        assert "hello there" not in seen and "ünïcode" not in seen

        # the whole value, newline and all, as the app's process sees it
        exec_id = client.api.exec_create(
            instance.container_id,
            [imagedeploy.LAUNCHER, "sh", "-c", 'printf %s "$TRICKY"'],
            user=f"{UID}:{UID}",
            workdir=wrapped.workdir,
        )
        assert client.api.exec_start(exec_id).decode() == TRICKY
        missing = client.api.exec_create(
            instance.container_id, [imagedeploy.LAUNCHER, "python3", "-V"], user=f"{UID}"
        )
        out = client.api.exec_start(missing).decode()
        assert client.api.exec_inspect(missing)["ExitCode"] == 127
        assert "rig-launch: python3: not found" in out


def test_image_registry_errors_are_one_line_api_errors(
    foreign: Foreign, local_registry: Registry
) -> None:
    ref = imageref.parse(foreign.ref)
    wrong = imageref.RegistryAuth(local_registry.user, "wrong-" + local_registry.password)
    with pytest.raises(registry.CredentialsRefused) as refused, imagedeploy.session(ref, wrong):
        pass
    assert wrong.password not in str(refused.value)
    mapped = imagedeploy.api_error(refused.value)
    assert isinstance(mapped, errors.Forbidden) and "rig create registry" in mapped.hint

    with imagedeploy.session(ref, None) as anonymous, pytest.raises(registry.CredentialsRefused):
        imagedeploy.resolve(anonymous, ref)

    good = imageref.RegistryAuth(local_registry.user, local_registry.password)
    missing = imageref.parse(f"{local_registry.address}/nothing-here:1")
    with imagedeploy.session(missing, good) as client:
        with pytest.raises(registry.ImageNotFound) as not_found:
            imagedeploy.resolve(client, missing)
        no_tag = imageref.parse(foreign.ref.rsplit(":", 1)[0] + ":v9")
        with pytest.raises(registry.ImageNotFound):
            imagedeploy.resolve(client, no_tag)
    assert isinstance(imagedeploy.api_error(not_found.value), errors.NotFound)
    assert "\n" not in str(not_found.value)

    closed = imageref.parse(f"127.0.0.1:{free_port()}/x:1")
    with (
        imagedeploy.session(closed, None) as client,
        pytest.raises(registry.RegistryUnreachable) as unreachable,
    ):
        imagedeploy.resolve(client, closed)
    mapped = imagedeploy.api_error(unreachable.value)
    assert isinstance(mapped, errors.RegistryUnreachable) and mapped.status == 502


def test_image_without_a_command_is_refused(docker_client: object, app_name: str) -> None:
    import docker

    client: docker.DockerClient = docker_client  # type: ignore[assignment]
    name = f"nocmd{uuid.uuid4().hex[:8]}"
    client.api.import_image_from_data(rootfs(), repository=name, tag="v1")
    try:
        with pytest.raises(engine.EngineError, match="has no ENTRYPOINT or CMD"):
            imagedeploy.wrap(client, f"{name}:v1", app=app_name, network="n", release="r1", uid=UID)
    finally:
        client.api.remove_image(f"{name}:v1", force=True)


def test_image_carrier_is_a_static_busybox() -> None:
    path = imagedeploy.find_busybox()
    assert imagedeploy._is_static_elf(path)
    assert not imagedeploy._is_static_elf(Path("/bin/ls"))  # a dynamically linked one
