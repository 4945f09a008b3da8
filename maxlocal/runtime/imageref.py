"""Image references (``rig deploy --image REF``) and the credentials of the registry they name.

One place for the grammar, so that the API checks a reference before anything is recorded and
the engine side (``runtime.swarm.imagedeploy``) reads it the same way. The grammar is the
distribution project's (``docker pull`` accepts the same): ``[HOST[:PORT]/]PATH[:TAG][@DIGEST]``,
where the first component is a registry host only when it has a ``.`` or a ``:`` or is
``localhost``; otherwise the image is Docker Hub's (``docker.io``). Imports nothing heavy: the
API layer uses it on every image deploy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DOCKER_HUB = "docker.io"
MAX_LENGTH = 255
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]{{1,5}})?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"
REFERENCE = re.compile(
    rf"(?:(?P<host>{_HOST})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
HOST = re.compile(_HOST)


class BadReference(ValueError):
    """Not an image reference: the message says what is wrong, never more than the input."""


@dataclass(frozen=True)
class ImageRef:
    host: str
    """The registry: ``HOST[:PORT]`` as written, or ``docker.io``."""
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        """``HOST/PATH`` as the engine names it (Docker Hub's without its host)."""
        return self.path if self.host == DOCKER_HUB else f"{self.host}/{self.path}"

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for one registry. The password is kept out of ``repr`` (and so out of any
    log or traceback that prints the object)."""

    username: str
    password: str = field(repr=False)


def parse(text: str) -> ImageRef:
    """``text`` as an image reference (no tag and no digest means ``latest``, as docker says)."""
    if len(text) > MAX_LENGTH:
        raise BadReference(f"an image reference is at most {MAX_LENGTH} characters")
    match = REFERENCE.fullmatch(text)
    if match is None:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise BadReference(
            f"'{shown}' is not an image reference: expected "
            "[HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST] with a lower-case NAME"
        )
    host, path = match["host"], match["path"]
    if host is not None and not _is_host(host):  # "library/x": a path, not a host
        path, host = f"{host}/{path}", None
        if REFERENCE.fullmatch(path + (f":{match['tag']}" if match["tag"] else "")) is None:
            raise BadReference(f"'{text}' is not an image reference: upper case in its name")
    tag = match["tag"]
    if tag is None and match["digest"] is None:
        tag = "latest"
    return ImageRef(host or DOCKER_HUB, path, tag, match["digest"])


def check_host(text: str) -> str:
    """A registry host as ``rig create registry`` takes it: ``HOST[:PORT]``, lower-cased."""
    if not HOST.fullmatch(text) or len(text) > MAX_LENGTH:
        raise BadReference(f"'{text[:80]}' is not a registry host: expected HOST or HOST:PORT")
    return text.lower()


def _is_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"
