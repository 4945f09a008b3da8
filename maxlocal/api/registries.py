"""Container-registry credentials of the caller, for image deploys (``rig create registry``).

The password goes in once (a request body, never a URL) and never comes back out: answers carry
the host and the user name only. Stored encrypted by the platform's ``Vault``, as secrets are.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from maxlocal.api.deps import PlatformDep, UserDep
from maxlocal.api.schemas import Request as Body
from maxlocal.errors import InvalidRequest, NotFound
from maxlocal.runtime import imageref
from maxlocal.store.registries import Registries, Registry

router = APIRouter(tags=["registries"])


class RegistryIn(Body):
    host: str = Field(min_length=1, max_length=imageref.MAX_LENGTH, description="HOST[:PORT]")
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=8192, description="never stored in clear")


class RegistryOut(BaseModel):
    host: str
    username: str
    created_at: str
    updated_at: str


def _out(registry: Registry) -> RegistryOut:
    return RegistryOut(
        host=registry.host,
        username=registry.username,
        created_at=registry.created_at,
        updated_at=registry.updated_at,
    )


def _host(text: str) -> str:
    try:
        return imageref.check_host(text)
    except imageref.BadReference as e:
        raise InvalidRequest(str(e), "for example: registry.example.com or 127.0.0.1:5000") from e


@router.get("/registries")
def list_registries(user: UserDep, platform: PlatformDep) -> list[RegistryOut]:
    return [_out(r) for r in Registries(platform.db).of_user(user.id)]


@router.post("/registries", status_code=201)
def set_registry(body: RegistryIn, user: UserDep, platform: PlatformDep) -> RegistryOut:
    """Store (or replace) the caller's credentials for a registry host."""
    host = _host(body.host)
    ciphertext = platform.vault.encrypt(body.password)
    registry, _ = Registries(platform.db).set(user.id, host, body.username, ciphertext)
    return _out(registry)


@router.delete("/registries/{host}", status_code=204, response_class=Response)
def delete_registry(host: str, user: UserDep, platform: PlatformDep) -> Response:
    if not Registries(platform.db).delete(user.id, _host(host)):
        raise NotFound(
            f"no credentials stored for registry {host}", "run `rig list registries` to see them"
        )
    return Response(status_code=204)
