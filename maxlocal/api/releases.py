"""Releases: upload an artifact (streamed to disk, verified), list them, roll back."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect
from starlette.types import Scope

from maxlocal.api.deps import PlatformDep, UserDep, find_app
from maxlocal.api.schemas import Request as Body
from maxlocal.errors import (
    ChecksumMismatch,
    InvalidRequest,
    LengthRequired,
    NotFound,
    PayloadTooLarge,
)
from maxlocal.platform import Platform
from maxlocal.runtime import imageref
from maxlocal.runtime.artifacts import ArchiveWriter, ArtifactError, check_headers
from maxlocal.store.apps import App
from maxlocal.store.registries import Registries
from maxlocal.store.releases import IdempotencyKeyUsed, NewRelease, Release

router = APIRouter(tags=["releases"])

APP = "/networks/{network}/apps/{app}"
UPLOAD_PATH = re.compile(r"^/api/v1/networks/[^/]+/apps/[^/]+/releases/?$")
SHA256 = re.compile(r"[0-9a-f]{64}")  # fullmatch
WRITE_CHUNK = 1024 * 1024


def is_upload(scope: Scope) -> bool:
    """Uploads stream their body to disk, outside the JSON body limit."""
    return scope.get("method") == "POST" and bool(UPLOAD_PATH.match(scope.get("path", "")))


class GitOut(BaseModel):
    commit: str | None
    branch: str | None
    dirty: bool | None


class ReleaseError(BaseModel):
    reason: str
    phase: Literal["upload", "unpack", "build", "start"]
    log_tail: list[str]


class EnvKeys(BaseModel):
    vars: list[str]
    secrets: list[str]


class ImageOut(BaseModel):
    ref: str = Field(description="the reference deployed, as asked for")
    digest: str | None = Field(
        description="the digest reference it resolved to (repository@sha256:...), what runs"
    )


class ReleaseOut(BaseModel):
    number: int
    app: str
    network: str
    status: Literal["pending", "building", "starting", "active", "superseded", "failed"]
    source: Literal["deploy", "config", "rollback"]
    artifact_release: int
    checksum: str
    size: int
    message: str
    git: GitOut | None
    created_by: str
    created_at: str
    finished_at: str | None
    env_keys: EnvKeys
    error: ReleaseError | None
    processes: dict[str, str] | None  # once built: the process types it runs (web, worker...)
    image: ImageOut | None = None  # an image deploy's reference and digest; null for source


class RegistryAuthIn(Body):
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=8192, description="never stored nor shown")


class ImageDeploy(Body):
    image: str = Field(
        min_length=1,
        max_length=imageref.MAX_LENGTH,
        description="[HOST[:PORT]/]NAME[:TAG][@DIGEST]",
    )
    message: str = Field(default="", max_length=4096)
    auth: RegistryAuthIn | None = Field(
        default=None,
        description="credentials for this pull only; without them, the caller's stored "
        "credentials for the image's registry (POST /registries), else none",
    )


class RollbackRequest(Body):
    to: int | None = None


class RollbackOut(ReleaseOut):
    env_changed: list[str]
    rolled_back_to: int


def release_out(app: App, release: Release) -> ReleaseOut:
    return ReleaseOut(
        number=release.number,
        app=app.name,
        network=app.network,
        status=release.status,
        source=release.source,
        artifact_release=release.artifact_release,
        checksum=release.checksum,
        size=release.size,
        message=release.message,
        git=GitOut(**release.git) if release.git else None,
        created_by=release.created_by,
        created_at=release.created_at,
        finished_at=release.finished_at,
        env_keys=EnvKeys(vars=sorted(release.env.vars), secrets=sorted(release.env.secrets)),
        error=ReleaseError(**release.error) if release.error else None,
        processes=release.processes,
        image=ImageOut(ref=release.image, digest=release.image_digest) if release.image else None,
    )


def _git(commit: str | None, branch: str | None, dirty: bool | None) -> dict[str, Any] | None:
    if commit is None and branch is None and dirty is None:
        return None
    return {"commit": commit, "branch": branch, "dirty": dirty}


def _check_length(request: Request, limit: int) -> None:
    length = request.headers.get("content-length")
    if length is None:
        raise LengthRequired(
            "Content-Length is required: send the archive with its size (not chunked)"
        )
    if not length.isdigit():
        raise InvalidRequest("Content-Length must be a number of bytes")
    if int(length) > limit:
        raise PayloadTooLarge(
            f"the archive ({length} bytes) is over the platform's limit of {limit} bytes",
            "leave large files out with .rigignore",
        )


async def _receive(request: Request, writer: ArchiveWriter) -> None:
    """Stream the body to ``writer``, in writes of about a MiB done off the event loop."""
    buffer = bytearray()
    async for chunk in request.stream():
        buffer += chunk
        if len(buffer) >= WRITE_CHUNK:
            await asyncio.to_thread(writer.write, bytes(buffer))
            buffer.clear()
    if buffer:
        await asyncio.to_thread(writer.write, bytes(buffer))


@router.post(
    APP + "/releases",
    status_code=202,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload(
    network: str,
    app: str,
    request: Request,
    user: UserDep,
    platform: PlatformDep,
    x_checksum_sha256: Annotated[str | None, Header(description="hex SHA-256 of the body")] = None,
    idempotency_key: Annotated[str | None, Header()] = None,
    message: str = "",
    commit: str | None = None,
    branch: str | None = None,
    dirty: bool | None = None,
) -> ReleaseOut:
    _, found = find_app(platform, user.id, network, app)
    limit = platform.settings.max_upload_bytes
    _check_length(request, limit)
    checksum = (x_checksum_sha256 or "").strip().lower()
    if not SHA256.fullmatch(checksum):
        raise InvalidRequest("header X-Checksum-Sha256 is required: the hex SHA-256 of the body")
    if idempotency_key:
        earlier = platform.releases.by_idempotency_key(found.id, idempotency_key)
        if earlier is not None:
            return release_out(found, earlier)
    path = platform.runtime.layout.upload(network, app)
    with ArchiveWriter(path, max_bytes=limit) as writer:
        try:
            await _receive(request, writer)
        except ClientDisconnect as e:
            raise InvalidRequest("the upload was cut short") from e
        try:
            await asyncio.to_thread(writer.finish, checksum)
        except ArtifactError as e:
            raise ChecksumMismatch(e.message, "the archive changed on the way: upload again") from e
    try:
        await asyncio.to_thread(check_headers, path)
    except ArtifactError as e:
        path.unlink(missing_ok=True)
        raise InvalidRequest(e.message, "upload a gzip'd tar of the source (`rig deploy`)") from e
    new = NewRelease(
        source="deploy",
        checksum=checksum,
        size=writer.size,
        env=platform.runtime.snapshot(found),
        created_by=user.email,
        message=message,
        git=_git(commit, branch, dirty),
        idempotency_key=idempotency_key or None,
    )
    try:
        release = await asyncio.to_thread(platform.runtime.accept_upload, found, path, new)
    except IdempotencyKeyUsed:
        path.unlink(missing_ok=True)
        earlier = platform.releases.by_idempotency_key(found.id, idempotency_key or "")
        assert earlier is not None
        release = earlier
    return release_out(found, release)


@router.post(APP + "/releases/image", status_code=202)
async def deploy_image(
    network: str, app: str, body: ImageDeploy, user: UserDep, platform: PlatformDep
) -> ReleaseOut:
    """A release of a prebuilt image, pulled from its registry by the runtime driver."""
    _, found = find_app(platform, user.id, network, app)
    try:
        ref = imageref.parse(body.image)
    except imageref.BadReference as e:
        raise InvalidRequest(str(e), "for example: registry.example.com/team/api:1.4") from e
    new = NewRelease(
        source="deploy",
        checksum="",
        size=0,
        env=platform.runtime.snapshot(found),
        created_by=user.email,
        message=body.message or f"image {ref}",
        image=str(ref),
    )
    auth = registry_auth(platform, user.id, ref.host, body.auth)
    release = await asyncio.to_thread(platform.runtime.accept_image, found, ref, auth, new)
    return release_out(found, release)


def registry_auth(
    platform: Platform, user_id: int, host: str, given: RegistryAuthIn | None
) -> imageref.RegistryAuth | None:
    """The credentials for a pull from ``host``: those sent with the deploy, else the
    caller's stored ones, else none (a public image)."""
    if given is not None:
        return imageref.RegistryAuth(given.username, given.password)
    stored = Registries(platform.db).credentials(user_id, host)
    if stored is None:
        return None
    username, ciphertext = stored
    return imageref.RegistryAuth(username, platform.vault.decrypt(ciphertext))


@router.get(APP + "/releases")
def list_releases(network: str, app: str, user: UserDep, platform: PlatformDep) -> list[ReleaseOut]:
    _, found = find_app(platform, user.id, network, app)
    return [release_out(found, r) for r in platform.releases.of_app(found.id)]


@router.get(APP + "/releases/{number}")
def get_release(
    network: str, app: str, number: int, user: UserDep, platform: PlatformDep
) -> ReleaseOut:
    _, found = find_app(platform, user.id, network, app)
    release = platform.releases.get(found.id, number)
    if release is None:
        raise NotFound(
            f"release {number} of app '{app}' not found",
            f"run `rig list releases --app {app} --network {network}` to see them",
        )
    return release_out(found, release)


@router.post(APP + "/rollback", status_code=202)
def rollback(
    network: str,
    app: str,
    user: UserDep,
    platform: PlatformDep,
    body: RollbackRequest | None = None,
) -> RollbackOut:
    _, found = find_app(platform, user.id, network, app)
    to = body.to if body else None
    release, target = platform.runtime.rollback(found, to, user.email)
    changed = platform.runtime.env_changed(found, release)
    return RollbackOut(
        **release_out(found, release).model_dump(), env_changed=changed, rolled_back_to=target
    )
