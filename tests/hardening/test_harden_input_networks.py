"""Issue 15, finding 6: a deleted network's files must not pass to the next owner of its name
(the network's working directory, ``<data>/networks/<name>``, outlived ``rig delete network``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.conftest import new_api
from tests.hardening.harden_input_helpers import own_platform, run_command
from tests.support.platform import Platform

SECRET = "alice-private-3c9e"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with own_platform(tmp_path_factory, "networks") as platform:
        yield platform


@pytest.mark.parametrize("force", [False, True])
def test_the_next_owner_of_a_deleted_networks_name_finds_none_of_its_files(
    platform: Platform, force: bool
) -> None:
    alice, bob = new_api(platform), new_api(platform)
    network = f"shared-name-{int(force)}"
    assert alice.http.post("/networks", json={"name": network}).status_code == 201
    if force:
        assert alice.http.post(f"/networks/{network}/apps", json={"name": "api"}).is_success
    alice_token = str(alice.http.headers["Authorization"]).removeprefix("Bearer ")
    topic = f"exec:network:{network}"
    assert run_command(platform, alice_token, topic, f"echo {SECRET} > note.txt && ls")[0] == 0
    deleted = alice.http.delete(f"/networks/{network}", params={"force": str(force).lower()})
    assert deleted.status_code == 204, deleted.text

    assert bob.http.post("/networks", json={"name": network}).status_code == 201
    bob_token = str(bob.http.headers["Authorization"]).removeprefix("Bearer ")
    _, seen = run_command(platform, bob_token, topic, "ls -A; cat note.txt 2>/dev/null; true")
    assert SECRET not in seen, f"bob read alice's file in her deleted network: {seen!r}"
    assert "note.txt" not in seen
    assert not (platform.data_dir / "networks" / network / "note.txt").exists()
