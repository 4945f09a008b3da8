"""Request and response bodies shared by several routers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from maxlocal import names


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_name(value: str) -> str:
    problem = names.name_problem(value)
    if problem:
        raise ValueError(f"'{value[:80]}' is not a valid name: it {problem}")
    return value


Name = Annotated[
    str,
    Field(
        description="An RFC 1035 label: 1-63 of a-z, 0-9 and '-', starting with a letter "
        "and ending with a letter or digit",
        json_schema_extra={"pattern": names.NAME_PATTERN, "maxLength": names.NAME_MAX},
    ),
    AfterValidator(_check_name),
]


class CreateNamed(Request):
    name: Name | None = Field(default=None, description="omit to get a generated name")


class ErrorDetail(BaseModel):
    code: str
    message: str
    hint: str


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {
        "model": ErrorBody,
        "description": 'Any error: {"error": {"code", "message", "hint"}}',
    }
}


AppState = Literal["created", "building", "starting", "running", "crashed", "stopped", "failed"]


class AppOut(BaseModel):
    name: str
    network: str
    hostname: str
    url: str
    state: AppState
    created_at: str


class VarOut(BaseModel):
    key: str
    value: str
    source: Literal["network", "app"]
    overrides: bool = Field(description="true for an app value that hides a network value")
    updated_at: str


class SecretOut(BaseModel):
    key: str
    digest: str = Field(description="first 12 hex digits of an HMAC-SHA256 of the value")
    source: Literal["network", "app"]
    overrides: bool = Field(description="true for an app value that hides a network value")
    updated_at: str


class AppDetails(AppOut):
    vars: list[VarOut]
    secrets: list[SecretOut]
