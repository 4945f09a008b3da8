"""Exec against the real engine: a command in a running task, with and without a terminal,
as the app's user with the app's variables, its exit code, a resize, a missing program."""

from __future__ import annotations

import pytest

from maxlocal.runtime.swarm import exec as swarm_exec
from maxlocal.runtime.swarm import services
from maxlocal.runtime.swarm.engine import EngineError
from tests.swarm.conftest import UID, Releases, spec

pytestmark = [pytest.mark.swarm, pytest.mark.slow]


def test_swarm_exec_with_and_without_a_terminal(
    docker_client, releases: Releases, app_name: str
) -> None:
    services.deploy(docker_client, spec(app_name, releases.r1, "r1", replicas=2))
    services.wait_converged(docker_client, app_name, "r1", 2)

    plain = swarm_exec.start(
        docker_client,
        app_name,
        ["sh", "-c", 'read x; echo "out $x $(id -u) $GREETING $PWD"; echo err >&2; exit 3'],
        slot=2,
    )
    plain.write(b"typed\n")
    plain.close_input()
    output = list(plain.output())
    assert plain.wait() == 3
    assert plain.instance.slot == 2
    assert ("stdout", f"out typed {UID} hello /app\n".encode()) in output
    assert ("stderr", b"err\n") in output
    plain.close()

    tty = swarm_exec.start(
        docker_client,
        app_name,
        ["sh", "-c", "read x; stty size; read y; stty size; test -t 0 && echo tty $y; exit 4"],
        tty=True,
        size=(30, 100),
    )
    tty.write(b"go\n")  # the size is set just after the start: read once it surely is
    seen = b""
    chunks = tty.output()
    while b"30 100" not in seen:
        seen += next(chunks)[1]
    tty.resize(40, 120)
    tty.write(b"typed\n")
    for _, data in chunks:
        seen += data
    assert tty.wait() == 4
    assert b"40 120\r\ntty typed" in seen
    tty.close()


def test_swarm_exec_of_a_missing_program_and_a_missing_instance(
    docker_client, releases: Releases, app_name: str
) -> None:
    services.deploy(docker_client, spec(app_name, releases.r1, "r1"))
    services.wait_converged(docker_client, app_name, "r1", 1)

    missing = swarm_exec.start(docker_client, app_name, ["no-such-program"])
    output = b"".join(data for _, data in missing.output())
    assert missing.wait() == 127
    assert b"rig-launch: no-such-program: No such file or directory" in output
    with pytest.raises(EngineError, match=f"instance 7 of {app_name} has no running task"):
        swarm_exec.start(docker_client, app_name, ["true"], slot=7)
