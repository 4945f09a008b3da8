"""Whether an attack got what it was after, judged by the test from the tenant's evidence and
the host's truth (the tenant's own word is never the verdict): a file's digest must match the
real file, a planted value must be among what it read, a file it wrote must be on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.isolation.world import ALICE_NET, PLATFORM_MARKER, SECRET_NAME, World, digest

Check = Callable[[World, str, str], bool]
"""(world, context, evidence) -> whether the attack succeeded."""


def _file(key: str, limit: int | None = None) -> Check:
    def check(world: World, context: str, evidence: str) -> bool:
        data = Path(world.targets["files"][key]).read_bytes()
        return evidence == digest(data[:limit] if limit is not None else data)

    return check


def _planted(world: World, name: str, value: str, evidence: str) -> bool:
    return digest(f"{name}={value}".encode()) in evidence.split(",")


def _written(folder_key: str) -> Check:
    def check(world: World, context: str, evidence: str) -> bool:
        mark = f"bob-was-here-{context}"
        path = Path(world.targets[folder_key]) / mark
        return evidence == "written" and path.is_file() and path.read_text() == mark

    return check


def _acts_as_alice(world: World, context: str, evidence: str) -> bool:
    """The token bob wrote into the database lets him list alice's networks through the API."""
    response = httpx.get(
        f"{world.platform.url}/api/v1/networks",
        headers={"Authorization": f"Bearer {evidence}"},
        timeout=30,
        trust_env=False,
    )
    return response.status_code == 200 and ALICE_NET in response.text


def _equals(expected: str) -> Check:
    return lambda world, context, evidence: evidence == expected


CHECKS: dict[str, Check] = {
    "read-alice-environ": lambda w, c, e: _planted(w, SECRET_NAME, w.secret, e),
    "read-platform-environ": lambda w, c, e: _planted(w, PLATFORM_MARKER, w.platform_marker, e),
    "read-platform-db": lambda w, c, e: w.alice_email in e.split(","),
    "read-secrets-key": _file("secrets_key"),
    "read-bootstrap-password": _file("bootstrap"),
    "read-server-log": _file("server_log", 64),
    "read-operator-credentials": _file("operator_credentials"),
    "read-alice-source": _file("alice_source"),
    "read-etc-shadow": lambda w, c, e: e == digest(Path("/etc/shadow").read_bytes()),
    "list-data-dir": lambda w, c, e: "maxlocal.db" in e.split(","),
    "list-other-tenants": lambda w, c, e: ALICE_NET in e.split(","),
    "read-host-tmp": _file("host_tmp"),
    "write-alice-release": _written("alice_release"),
    "write-alice-home": _written("alice_home"),
    "write-operator-home": _written("operator_config"),
    "write-build-cache": _written("build_cache"),
    "write-platform-db": _equals("opened"),
    "forge-alice-token": _acts_as_alice,
    "write-platform-code": _equals("opened"),
    "write-etc": _equals("opened"),
    "ps-sees-platform": lambda w, c, e: str(w.targets["platform_pid"]) in e.split(","),
    "see-alice-process": lambda w, c, e: "alice_app.py" in e,
    "signal-alice": _equals("sent"),
    "signal-alice-group": _equals("sent"),
    "signal-platform": _equals("sent"),
    "reach-alice-directly": _equals("alice's shop"),
    "reach-platform-api": lambda w, c, e: '"isolation"' in e,
    "reach-host-loopback": lambda w, c, e: e == w.host_server.token,
    "run-as-root": _equals("0"),
    "setuid-gives-root": _equals("0"),
    "capabilities": lambda w, c, e: int(e, 16) != 0,
}


def succeeded(world: World, context: str, name: str, result: dict[str, Any]) -> bool:
    return bool(result["ok"]) and CHECKS[name](world, context, str(result["evidence"]))
