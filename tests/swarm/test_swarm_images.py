"""The base image and release images against the real engine: the recipe's tag, the labels, a
release whose environment is linked from outside it (as the builders link ``.venv``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from maxlocal.runtime.swarm import base, images, services
from maxlocal.runtime.swarm import exec as swarm_exec
from maxlocal.runtime.swarm.engine import APP, NETWORK, RELEASE
from tests.swarm.conftest import APP_PY, UID, spec

pytestmark = [pytest.mark.swarm, pytest.mark.slow]


def test_swarm_base_image_is_tagged_by_its_recipe(docker_client, base_image: str) -> None:
    assert base_image == f"rig-base:{base.recipe_hash()}"
    assert base.ensure(docker_client) == base_image  # imported once: the second is a look-up
    tarball = base.default_cache() / f"rig-base-{base.recipe_hash()}.tar"
    assert tarball.is_file()


def test_swarm_release_image_carries_its_linked_environment(
    docker_client, base_image: str, app_name: str, tmp_path: Path
) -> None:
    shared = tmp_path / "cache" / "envs" / "py-abc"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(shared)], check=True)
    tool = shared / "bin" / "hello-tool"  # a console script: its #! names the venv's python
    tool.write_text(f"#!{shared}/bin/python\nimport sys\nprint('tool in', sys.prefix)\n")
    tool.chmod(0o755)
    release = tmp_path / "release"
    release.mkdir(mode=0o700)
    (release / "app.py").write_text(APP_PY)
    (release / "version.txt").write_text("r1\n")
    (release / ".venv").symlink_to(shared)

    built = images.build(
        docker_client,
        release,
        base=base_image,
        app=app_name,
        network="net1",
        release="r1",
        uid=UID,
    )
    labels = docker_client.api.inspect_image(built.id)["Config"]["Labels"]
    assert {labels[APP], labels[NETWORK], labels[RELEASE]} == {app_name, "net1", "r1"}
    assert docker_client.api.inspect_image(built.id)["Config"]["User"] == f"{UID}:{UID}"

    services.deploy(docker_client, spec(app_name, built.tag, "r1"))
    services.wait_converged(docker_client, app_name, "r1", 1)
    session = swarm_exec.start(
        docker_client, app_name, ["sh", "-c", "hello-tool; echo $VIRTUAL_ENV; touch app.py"]
    )
    output = b"".join(data for _, data in session.output()).decode()
    assert session.wait() == 1  # the release is read-only to the app's user
    assert f"tool in {shared}\n/app/.venv\n" in output
    assert "Permission denied" in output
    assert sys.version_info[:2] == (3, 11)  # the base's Debian python3 is the machine's
