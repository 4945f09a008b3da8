"""The build plan of a release before it is uploaded (``rig deploy --dry-run``): the same
detection a deploy runs, on the file list and the top-level files the client sends."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from maxlocal.api.deps import PlatformDep, UserDep
from maxlocal.api.schemas import Request as Body
from maxlocal.builders.plan import make_plan
from maxlocal.builders.source import MemorySource
from maxlocal.errors import InvalidRequest
from maxlocal.runtime.procfile import ProcfileError

router = APIRouter(tags=["releases"])


class BuildWouldFail(InvalidRequest):
    """The release cannot be built or run as it is (a code of its own, so that a client tells
    it from a request it got wrong)."""

    code = "build_would_fail"


MAX_PATHS = 200_000
MAX_FILES = 10_000


class PlanRequest(Body):
    paths: list[str] = Field(
        default_factory=list, max_length=MAX_PATHS, description="every file of the release"
    )
    files: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_FILES,
        description="the text of its top-level files (Procfile, requirements.txt, package.json...)",
    )


@router.post("/build-plan")
def plan(user: UserDep, platform: PlatformDep, body: PlanRequest) -> dict[str, Any]:
    """What a deploy of these files would build and run, or why it would fail (for any
    signed-in user: it reads nothing but the files sent, so an app need not exist yet)."""
    try:
        found = make_plan(MemorySource(body.paths, body.files), platform.runtime.tools)
    except ProcfileError as e:
        raise BuildWouldFail(e.message, "see docs/builds.md for what is detected") from e
    return found.to_dict()
