"""An app's variables (and secrets) reach its tasks as a Swarm secret, never the service spec.

Decision: a service's ``Env`` is stored in its spec and printed by ``docker service inspect``
(and ``docker inspect`` of each task's container) to anyone with the engine's socket. A Swarm
secret's data is never returned by the API (``docker secret inspect`` shows its name and
labels), is kept encrypted in the swarm's raft log, and reaches only the tasks it is attached
to, as a file on a tmpfs (``/run/secrets/rig-env``, mode 0400, owned by the app's uid). So the
variables are one JSON object in one secret per (app, content): the release image's launcher
(``launch.py``) reads it into the environment before exec'ing the command. Secrets are
immutable, so a change of variables is a new secret, attached by a rolling update; the name
carries the content's hash, which makes ``ensure`` idempotent and lets a rollback re-attach the
secret of an older env snapshot (made again from the snapshot if it was removed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from maxlocal.runtime.swarm.engine import APP, MANAGED

if TYPE_CHECKING:
    import docker

FILE = "rig-env"


def _encode(variables: Mapping[str, str]) -> bytes:
    return json.dumps(dict(variables), sort_keys=True).encode()


def secret_name(app: str, variables: Mapping[str, str]) -> str:
    digest = hashlib.sha256(app.encode() + b"\0" + _encode(variables)).hexdigest()[:16]
    return f"{app}-env-{digest}"


def ensure(client: docker.DockerClient, app: str, variables: Mapping[str, str]) -> tuple[str, str]:
    """(id, name) of the secret holding ``variables`` for ``app``, made if missing."""
    import docker.errors

    name = secret_name(app, variables)
    found = client.secrets.list(filters={"name": name})
    for secret in found:
        if secret.name == name:
            return str(secret.id), name
    with contextlib.suppress(docker.errors.APIError):  # made meanwhile by another caller
        made = client.secrets.create(
            name=name, data=_encode(variables), labels={MANAGED: "env", APP: app}
        )
        return str(made.id), name
    secret = client.secrets.get(name)
    return str(secret.id), name


def prune(client: docker.DockerClient, app: str, keep: set[str]) -> None:
    """Remove the app's env secrets not named in ``keep`` (the engine refuses those still
    attached to a service, which are then kept)."""
    import docker.errors

    for secret in client.secrets.list(filters={"label": f"{APP}={app}"}):
        if secret.name not in keep:
            with contextlib.suppress(docker.errors.APIError):
                secret.remove()
