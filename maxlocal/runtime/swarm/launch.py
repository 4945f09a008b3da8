#!/usr/bin/python3
"""The entrypoint of every release image (``/usr/local/bin/rig-launch``): an app's variables
from its env file, then the command.

This file is copied into the image as it is and run by the image's Debian python3, so it
imports nothing of the platform. Why a file and not the service's environment: a service's
``Env`` is part of its spec, which ``docker service inspect`` shows to anyone who can reach the
engine; a Swarm secret's data is never returned by the API, is held encrypted in the swarm's
raft log and is mounted, on a tmpfs, only into the app's own tasks (``ENV_FILE``, readable by
the app's user alone). ``docker exec`` sessions (rig command/shell) go through this launcher
too, so they see the same variables as the app.

``rig-launch --relay PORT command...`` (the service's own command, not exec sessions') also
forwards the task's ``PORT`` on every address of the container to ``127.0.0.1:$PORT``: apps
written for the process runtime listen on loopback (their network namespace's), which the
engine's published port cannot reach inside a container. A forked child relays, so the app
is still the process the command names (exec), with its exit code and signals.
"""

import contextlib
import json
import os
import socket
import sys
import threading

ENV_FILE = "/run/secrets/rig-env"
RELAY_FLAG = "--relay"


def main() -> None:
    try:
        with open(ENV_FILE, encoding="utf-8") as handle:
            os.environ.update(json.load(handle))
    except FileNotFoundError:
        pass  # an app without variables has no env file
    argv = sys.argv[1:]
    if argv[:1] == [RELAY_FLAG] and len(argv) >= 2:
        relay(int(argv[1]), int(os.environ.get("PORT", "8000")))
        argv = argv[2:]
    if not argv:
        sys.exit("rig-launch: no command")
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"rig-launch: {argv[0]}: {exc.strerror}\n")
        sys.exit(127 if isinstance(exc, FileNotFoundError) else 126)


def relay(listen: int, target: int) -> None:
    """Fork a child that accepts on ``listen`` (every address) and joins each connection to
    ``127.0.0.1:target``; a refused connect closes the accepted one (the router tries the
    next instance). The listener is bound before the fork, so it is there when the app is."""
    server = socket.create_server(("", listen), backlog=256)
    if os.fork() != 0:
        server.close()
        return
    os.setsid()  # not the app's group: a signal to the app leaves the relay to die with the task
    while True:
        client, _ = server.accept()
        threading.Thread(target=_join, args=(client, target), daemon=True).start()


def _join(client: socket.socket, target: int) -> None:
    try:
        upstream = socket.create_connection(("127.0.0.1", target), timeout=5)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy until ``source`` ends, then end ``sink``'s writing side (half-close kept)."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


if __name__ == "__main__":
    main()
