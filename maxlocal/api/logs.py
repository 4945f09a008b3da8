"""Stored log lines of an app, of its builds, and of a whole network.

Every answer carries ``X-Last-Seq``: the log's last sequence number when it was read, whatever
the filters kept, so a client can follow on from there over the socket with no gap."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from maxlocal.api.deps import PlatformDep, UserDep, find_app, find_network
from maxlocal.errors import InvalidRequest
from maxlocal.grep import GrepError, line_match
from maxlocal.layout import build_log_key, log_key, network_log_key
from maxlocal.runtime.logstore import LogRecord, LogStore, process_fields

router = APIRouter(tags=["logs"])

APP = "/networks/{network}/apps/{app}"
DURATION = re.compile(r"(\d+(?:\.\d+)?)(s|m|h|d)")  # fullmatch
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
LAST_SEQ = "X-Last-Seq"
LAST_SEQ_HEADER: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            LAST_SEQ: {
                "description": "the log's last seq when it was read, whatever the filters kept",
                "schema": {"type": "integer"},
            }
        }
    }
}


class LogLine(BaseModel):
    seq: int
    ts: str
    app: str
    stream: str
    line: str
    process: str | None = None  # the process type that wrote it (web, worker)
    instance: str | None = None  # and which of them (web.1)


class BuildLogLine(LogLine):
    release: int | None


class Filters:
    def __init__(
        self,
        after: Annotated[int | None, Query(ge=0, description="lines after this seq")] = None,
        tail: Annotated[int | None, Query(ge=0, description="the last N lines")] = None,
        since: Annotated[
            str | None, Query(description="an RFC 3339 time or a duration: 30s, 10m, 2h, 1d")
        ] = None,
        grep: Annotated[
            str | None,
            Query(description="only lines containing this text (a regex with regex=true)"),
        ] = None,
        regex: Annotated[
            bool, Query(description="grep is a regular expression (RE2 syntax: linear time)")
        ] = False,
    ) -> None:
        self.after = after
        self.tail = tail
        self.since = _since(since) if since else None
        try:
            self.grep = line_match(grep, regex) if grep is not None else None
        except GrepError as e:
            raise InvalidRequest(str(e)) from e

    def read(
        self, logs: LogStore, key: str, response: Response, tail: bool = True
    ) -> list[LogRecord]:
        """The matching records; ``X-Last-Seq`` is read first, so no line newer than it is
        missed by a client that follows on from it."""
        response.headers[LAST_SEQ] = str(logs.last_seq(key))
        return logs.read(key, self.after, self.tail if tail else None, self.since, self.grep)


def _since(value: str) -> datetime:
    match = DURATION.fullmatch(value.strip())
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        return datetime.now(UTC) - timedelta(**{UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise InvalidRequest(
            f"since: {value!r} is neither an RFC 3339 time nor a duration such as 10m"
        ) from e
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _line(app: str, record: LogRecord) -> LogLine:
    return LogLine(
        seq=record.seq,
        ts=record.ts,
        app=record.app or app,
        stream=record.stream,
        line=record.line,
        **process_fields(record.process),
    )


FiltersDep = Annotated[Filters, Depends()]


@router.get(APP + "/logs", responses=LAST_SEQ_HEADER)
def app_logs(
    network: str,
    app: str,
    user: UserDep,
    platform: PlatformDep,
    filters: FiltersDep,
    response: Response,
) -> list[LogLine]:
    find_app(platform, user.id, network, app)
    records = filters.read(platform.runtime.logs, log_key(network, app), response)
    return [_line(app, r) for r in records]


@router.get(APP + "/logs/build", responses=LAST_SEQ_HEADER)
def build_logs(
    network: str,
    app: str,
    user: UserDep,
    platform: PlatformDep,
    filters: FiltersDep,
    response: Response,
    release: Annotated[int | None, Query(description="only this release's build")] = None,
) -> list[BuildLogLine]:
    find_app(platform, user.id, network, app)
    records = filters.read(platform.runtime.logs, build_log_key(network, app), response, False)
    if release is not None:
        records = [r for r in records if r.release == release]
    if filters.tail is not None:
        records = records[-filters.tail :] if filters.tail else []
    return [BuildLogLine(**_line(app, r).model_dump(), release=r.release) for r in records]


@router.get("/networks/{network}/logs", responses=LAST_SEQ_HEADER)
def network_logs(
    network: str, user: UserDep, platform: PlatformDep, filters: FiltersDep, response: Response
) -> list[LogLine]:
    find_network(platform, user.id, network)
    records = filters.read(platform.runtime.logs, network_log_key(network), response)
    return [_line("", r) for r in records]
