"""Images from a container registry (the basis of ``rig deploy --image``): log in, push a
release image, pull an image by reference and pin it by digest.

Credentials go to the engine only: ``login`` checks them with the registry through the engine
and keeps them in the client's memory, from where the SDK sends them in the ``X-Registry-Auth``
header of pulls and of service creates/updates (so the swarm's own pull of the image is
authenticated too); never in argv, a file or a log. A deploy pins the image by digest
(``repository@sha256:...``), which is what release metadata records and a rollback reuses.

Errors are one line each, said in the registry's terms: a missing image, refused credentials,
an unreachable registry; anything else, the engine's own message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maxlocal.runtime.swarm.engine import EngineError

if TYPE_CHECKING:
    import docker


class RegistryError(EngineError):
    pass


class ImageNotFound(RegistryError):
    """The registry has no such image or tag."""


class CredentialsRefused(RegistryError):
    """The registry refused the credentials (or wants some)."""


class RegistryUnreachable(RegistryError):
    """No registry answers at the reference's host."""


def login(client: docker.DockerClient, registry: str, username: str, password: str) -> None:
    import docker.errors

    try:
        client.login(username=username, password=password, registry=registry, reauth=True)
    except docker.errors.APIError as exc:
        raise classify(str(exc.explanation or exc), registry) from exc


def push(client: docker.DockerClient, image: str, reference: str) -> str:
    """Push local ``image`` as ``reference`` (``host:port/repo:tag``); its digest reference."""
    import docker.errors

    repository, tag = _split(reference)
    try:
        client.api.tag(image, repository, tag)
        events = client.api.push(repository, tag=tag, stream=True, decode=True)
        digest = ""
        for event in events:
            _raise_on(event, reference)
            digest = event.get("aux", {}).get("Digest", digest)
    except docker.errors.APIError as exc:
        raise classify(str(exc.explanation or exc), reference) from exc
    if not digest:
        raise RegistryError(f"pushing {reference} gave no digest")
    return f"{repository}@{digest}"


def pull(client: docker.DockerClient, reference: str) -> str:
    """Pull ``reference``; the digest reference (``repository@sha256:...``) it resolved to."""
    import docker.errors

    repository, tag = _split(reference)
    try:
        for event in client.api.pull(repository, tag=tag, stream=True, decode=True):
            _raise_on(event, reference)
        digests = client.api.inspect_image(reference).get("RepoDigests", [])
    except docker.errors.APIError as exc:
        raise classify(str(exc.explanation or exc), reference) from exc
    for digest in digests:
        if digest.startswith(repository + "@"):
            return str(digest)
    raise RegistryError(f"{reference} was pulled but the engine shows no digest for it")


def _split(reference: str) -> tuple[str, str]:
    if "@" in reference:
        repository, digest = reference.split("@", 1)
        return repository, digest
    head, _, last = reference.rpartition("/")
    if ":" in last:
        name, tag = last.rsplit(":", 1)
        return f"{head}/{name}" if head else name, tag
    return reference, "latest"


def _raise_on(event: dict[str, Any], reference: str) -> None:
    if "error" in event:
        raise classify(str(event["error"]), reference)


def classify(message: str, what: str) -> RegistryError:
    """The engine's message about ``what`` (a reference or a registry) as one of the errors
    above, in one line."""
    low = message.lower()
    if any(s in low for s in ("manifest unknown", "not found", "does not exist")):
        return ImageNotFound(f"image {what} not found in its registry ({message.strip()})")
    refused = ("unauthorized", "authentication required", "401", "no basic auth", "denied")
    if any(s in low for s in refused):
        return CredentialsRefused(f"the registry refused the credentials for {what}")
    if any(s in low for s in ("connection refused", "no such host", "dial tcp", "timeout")):
        return RegistryUnreachable(f"the registry of {what} is unreachable ({message.strip()})")
    return RegistryError(f"{what}: {message.strip()}")
