"""Sign-in, sessions, the caller's identity and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi import Request as HttpRequest
from pydantic import BaseModel, Field

from maxlocal.api.deps import PlatformDep, UserDep
from maxlocal.api.schemas import Request
from maxlocal.auth import Session
from maxlocal.errors import NotFound

router = APIRouter(tags=["auth"])


class LoginRequest(Request):
    email: str
    password: str


class ExchangeRequest(Request):
    token: str = Field(description="an API token (mxt_...)")


class RefreshRequest(Request):
    refresh_token: str


class UserOut(BaseModel):
    id: int
    email: str


class SessionOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut


class MeOut(UserOut):
    created_at: str


class CreateToken(Request):
    name: str = Field(min_length=1, max_length=100)


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: str
    last_used_at: str | None


class NewTokenOut(BaseModel):
    id: int
    name: str
    token: str = Field(description="shown only in this response")
    created_at: str


def _session(session: Session) -> SessionOut:
    return SessionOut(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        expires_in=session.expires_in,
        user=UserOut(id=session.user.id, email=session.user.email),
    )


def client_address(request: HttpRequest) -> str | None:
    """The address a request came from, as sign-in budgets count it."""
    return request.client.host if request.client else None


@router.post("/auth/login")
def login(body: LoginRequest, request: HttpRequest, platform: PlatformDep) -> SessionOut:
    return _session(platform.auth.login(body.email, body.password, client_address(request)))


@router.post("/auth/token")
def exchange(body: ExchangeRequest, platform: PlatformDep) -> SessionOut:
    return _session(platform.auth.exchange(body.token))


@router.post("/auth/refresh")
def refresh(body: RefreshRequest, platform: PlatformDep) -> SessionOut:
    return _session(platform.auth.refresh(body.refresh_token))


@router.post("/auth/logout", status_code=204, response_class=Response)
def logout(body: RefreshRequest, platform: PlatformDep) -> None:
    platform.auth.logout(body.refresh_token)


@router.get("/me")
def me(user: UserDep) -> MeOut:
    return MeOut(id=user.id, email=user.email, created_at=user.created_at)


@router.get("/tokens")
def list_tokens(user: UserDep, platform: PlatformDep) -> list[TokenOut]:
    return [
        TokenOut(id=t.id, name=t.name, created_at=t.created_at, last_used_at=t.last_used_at)
        for t in platform.auth.tokens.list_api_tokens(user.id)
    ]


@router.post("/tokens", status_code=201)
def create_token(body: CreateToken, user: UserDep, platform: PlatformDep) -> NewTokenOut:
    created, token = platform.auth.create_api_token(user.id, body.name)
    return NewTokenOut(id=created.id, name=created.name, token=token, created_at=created.created_at)


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response)
def revoke_token(token_id: int, user: UserDep, platform: PlatformDep) -> None:
    if not platform.auth.revoke_api_token(user.id, token_id):
        raise NotFound(f"API token {token_id} not found", "run `rig list tokens` to see yours")
