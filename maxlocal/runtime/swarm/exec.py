"""``rig command``/``rig shell`` in the Swarm runtime: a process in a running task's container,
through the engine's exec API, with or without a terminal.

The process runs as the app's user, in the release's directory, through the launcher (so it
sees the app's variables from the env secret, as the app does). Without a terminal the output
comes as the engine's frames (stdout and stderr apart); with one, as the terminal's bytes, and
``resize`` sets its size. ``wait`` gives the exit code (``None`` while it runs).

The first size is set just after the start (API 1.41 has no size at exec creation; 1.42's
``ConsoleSize`` has): a program that asks for its size as its very first act may see 0x0, as
with ``docker exec -t``. rig's shell sends a resize when it attaches, which lands after.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from maxlocal.runtime.swarm.engine import EngineError
from maxlocal.runtime.swarm.images import APP_DIR, LAUNCHER
from maxlocal.runtime.swarm.services import Instance, instances

if TYPE_CHECKING:
    import docker


class ExecSession:
    def __init__(
        self,
        client: docker.DockerClient,
        instance: Instance,
        command: Sequence[str],
        *,
        tty: bool,
        size: tuple[int, int] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.client = client
        self.instance = instance
        self.tty = tty
        made = client.api.exec_create(
            instance.container_id,
            [LAUNCHER, *command],
            stdin=True,
            tty=tty,
            environment=env,
            workdir=str(APP_DIR),
        )
        self.id: str = made["Id"]
        self._io: Any = client.api.exec_start(self.id, socket=True, tty=tty)
        self._raw: socket.socket = self._io._sock
        if tty and size is not None:
            self.resize(*size)

    def write(self, data: bytes) -> None:
        self._raw.sendall(data)

    def close_input(self) -> None:
        """End of the process's standard input (its read gets EOF)."""
        with contextlib.suppress(OSError):
            self._raw.shutdown(socket.SHUT_WR)

    def output(self) -> Iterator[tuple[str, bytes]]:
        """(stream, bytes) until the process ends: ``stdout``/``stderr``, or ``tty``."""
        from docker.utils.socket import frames_iter

        names = {0: "tty", 1: "stdout", 2: "stderr"}
        for stream, data in frames_iter(self._io, tty=self.tty):
            yield names.get(stream, "stdout"), data

    def resize(self, rows: int, cols: int) -> None:
        self.client.api.exec_resize(self.id, height=rows, width=cols)

    def wait(self, timeout: float = 30.0) -> int | None:
        """The exit code once the process has ended (within ``timeout``), else None."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.client.api.exec_inspect(self.id)
            if not state.get("Running") and state.get("ExitCode") is not None:
                return int(state["ExitCode"])
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._io.close()
            self._raw.close()


def start(
    client: docker.DockerClient,
    app: str,
    command: Sequence[str],
    *,
    slot: int | None = None,
    tty: bool = False,
    size: tuple[int, int] | None = None,
) -> ExecSession:
    """An exec session in the app's instance ``slot`` (the first running one when None)."""
    running = instances(client, app)
    chosen = [i for i in running if slot is None or i.slot == slot]
    if not chosen:
        which = f"instance {slot} of {app}" if slot is not None else app
        raise EngineError(f"{which} has no running task to run a command in")
    return ExecSession(client, chosen[0], command, tty=tty, size=size)
