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
"""

import json
import os
import sys

ENV_FILE = "/run/secrets/rig-env"


def main() -> None:
    try:
        with open(ENV_FILE, encoding="utf-8") as handle:
            os.environ.update(json.load(handle))
    except FileNotFoundError:
        pass  # an app without variables has no env file
    if len(sys.argv) < 2:
        sys.exit("rig-launch: no command")
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    except OSError as exc:
        sys.stderr.write(f"rig-launch: {sys.argv[1]}: {exc.strerror}\n")
        sys.exit(127 if isinstance(exc, FileNotFoundError) else 126)


if __name__ == "__main__":
    main()
