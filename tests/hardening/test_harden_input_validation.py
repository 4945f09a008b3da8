"""Issue 15, finding 12: what the platform accepts as names and values, and the data directory's
permissions when it already exists. Each test does what the review did, on a real platform."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import pytest

from tests.deploy.conftest import Api, new_api
from tests.hardening.harden_input_helpers import own_platform, run_command
from tests.support.platform import Platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with own_platform(tmp_path_factory, "validation") as platform:
        yield platform


@pytest.fixture
def api(platform: Platform) -> Iterator[Api]:
    client = new_api(platform)
    yield client
    client.http.close()


@pytest.mark.parametrize("kind", ["vars", "secrets"])
def test_a_nul_in_a_value_is_refused_and_exec_still_works(
    api: Api, platform: Platform, kind: str
) -> None:
    """A NUL cannot be in an environment variable: the value used to be stored, and every
    later exec and deploy of the network failed with a traceback."""
    network, _ = api.new_app()
    response = api.http.patch(f"/networks/{network}/{kind}", json={kind: {"K": "a\x00b"}})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and "NUL" in error["message"], error
    assert api.http.get(f"/networks/{network}/{kind}").json() == []
    token = str(api.http.headers["Authorization"]).removeprefix("Bearer ")
    assert run_command(platform, token, f"exec:network:{network}", "echo fine") == (0, "fine\n")


def test_a_process_name_with_a_trailing_newline_is_refused(api: Api) -> None:
    """``$`` matches before a trailing newline: ``"web\\n"`` passed as a process name."""
    toml = '[processes]\n"web\\n" = "python3 app.py"\n'
    response = api.http.post(
        "/build-plan", json={"paths": ["app.py", "rig.toml"], "files": {"rig.toml": toml}}
    )
    assert response.status_code == 422, response.text
    assert "invalid process name" in response.json()["error"]["message"]


def test_a_loose_data_directory_is_tightened_at_start(platform: Platform) -> None:
    """A data directory made by hand (0755) with files left readable (0644) by an earlier run
    or a copy: the platform makes them its own alone (0700, 0600) when it starts."""
    platform.stop()
    data = platform.data_dir
    os.chmod(data, 0o755)
    loose = [p for p in data.iterdir() if p.is_file() and not p.is_symlink()]
    assert any(p.name == "maxlocal.db" for p in loose), loose
    for path in loose:
        os.chmod(path, 0o644)
    for path in (p for p in data.iterdir() if p.is_dir() and not p.is_symlink()):
        os.chmod(path, 0o755)
    platform.start(platform.port)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    modes = {
        p.name: oct(stat.S_IMODE(p.stat().st_mode))
        for p in data.iterdir()
        if not p.is_symlink() and stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert modes == {}, f"readable by others after the start: {modes}"
