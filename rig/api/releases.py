"""Watching a release until it settles (``active``, ``superseded`` or ``failed``): the one
place that waits on a release, for ``deploy`` and ``rollback``; :func:`settle` raises
:class:`ReleaseFailed` for one that failed.

Over the realtime socket: the release's build log (stored lines first, then live from where
they ended) and ``status:user``'s release events; the release is read again after a
reconnect (events are not replayed) and at the end. :func:`poll_release` is the fallback when
the socket cannot connect.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rig.api.logs import LogSource
from rig.api.topics import RELEASE_EVENT, STATUS_TOPIC
from rig.api.types import LogRecord, Release
from rig.errors import RigError
from rig.output.units import human_seconds

if TYPE_CHECKING:
    from rig.api.client import Api
    from rig.context import Context

POLL_S = 0.25
WATCH_TIMEOUT_S = 15 * 60
DONE = frozenset({"active", "superseded", "failed"})

LineSink = Callable[[LogRecord], None]


class ReleaseFailed(RigError):
    """A release that ended ``failed``: the reason, the phase, and the last lines of its log."""

    code = "release_failed"

    def __init__(self, network: str, app: str, release: Mapping[str, Any]) -> None:
        error = release.get("error") or {}
        self.release = release
        self.phase = str(error.get("phase") or "")
        self.reason = str(error.get("reason") or "no reason given")
        self.log_tail = [str(line) for line in error.get("log_tail") or []]
        number = release.get("number")
        during = f" during {self.phase}" if self.phase else ""
        logs = (
            f"rig logs build {app} --release {number}"
            if self.phase in ("build", "unpack", "upload")
            else f"rig logs app {app}"
        )
        super().__init__(
            f"release {number} of {app} failed{during}: {self.reason}",
            hint=f"the previous release, if any, is still serving; see `{logs} --network "
            f"{network}`",
        )

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body["error"].update(
            release=self.release.get("number"), phase=self.phase, log_tail=self.log_tail
        )
        return body


def settle(
    ctx: Context, network: str, app: str, number: int, on_line: LineSink | None = None
) -> Release:
    """:func:`watch_release`, and :class:`ReleaseFailed` if the release failed (its log tail on
    stderr first, for people; ``-o json`` carries it in the error instead)."""
    release = watch_release(ctx, network, app, number, on_line)
    if release.get("status") != "failed":
        return release
    failure = ReleaseFailed(network, app, release)
    if not ctx.json:
        from rig.output.releases import show_failure

        show_failure(failure, ctx.stderr)
    raise failure


class _BuildLines:
    """One release's build-log lines, each handed to ``on_line`` once, in order."""

    def __init__(self, api: Api, source: LogSource, number: int, on_line: LineSink) -> None:
        self.api, self.source, self.number, self.on_line = api, source, number, on_line
        self.last: int | None = None

    def show(self, line: LogRecord) -> None:
        seq = line.get("seq")
        if isinstance(seq, int) and self.last is not None and seq <= self.last:
            return
        if isinstance(seq, int):
            self.last = seq
        self.on_line(line)

    def drain(self) -> int:
        """Show the stored lines not shown yet; the log's last seq as the platform read it."""
        page = self.api.logs(self.source, release=self.number, after=self.last)
        for line in page.records:
            self.show(line)
        return page.last_seq if page.last_seq is not None else self.last or 0


def watch_release(
    ctx: Context, network: str, app: str, number: int, on_line: LineSink | None = None
) -> Release:
    """Wait until release ``number`` of ``app`` is done; hand each of its build-log lines to
    ``on_line`` as it comes. Without a socket, :func:`poll_release`."""
    from rig.api.live import following
    from rig.transport.socket import JoinError

    api = ctx.api()
    source = LogSource("build", network, app)
    build = _BuildLines(api, source, number, on_line) if on_line is not None else None
    topics, after = ([source.topic], {source.topic: build.drain()}) if build else ([], None)

    def read() -> Release:
        return api.release(network, app, number)

    try:
        with following(ctx, topics, after=after, events={STATUS_TOPIC: [RELEASE_EVENT]}) as records:
            release = _until_done(records, read(), read, source, build)
    except (ConnectionError, TimeoutError, JoinError):
        return poll_release(api, network, app, number, build.show if build else None)
    if build is not None:
        build.drain()
    if release.get("status") not in DONE:  # the socket closed for good before the end
        return poll_release(api, network, app, number, build.show if build else None)
    return release


def _until_done(
    records: Iterable[dict[str, Any]],
    release: Release,
    read: Callable[[], Release],
    source: LogSource,
    build: _BuildLines | None,
) -> Release:
    """The release once done (or as last read, if the records end first), showing build lines
    meanwhile. It is read again after each rejoin, and when an event says it is done."""
    from rig.transport.follow import REJOINED

    number = release.get("number")
    if release.get("status") in DONE:
        return release
    for record in records:
        payload = record.get("payload") or {}
        if record.get("event") == REJOINED or _is_end(payload, source, number):
            release = read()
            if release.get("status") in DONE:
                break
        elif build is not None and record.get("release") == number:
            build.show(record)  # type: ignore[arg-type]
    return release


def _is_end(event: dict[str, Any], source: LogSource, number: Any) -> bool:
    return (
        event.get("network") == source.network
        and event.get("app") == source.app
        and event.get("number") == number
        and event.get("status") in DONE
    )


def poll_release(
    api: Api,
    network: str,
    app: str,
    number: int,
    on_line: LineSink | None = None,
    *,
    interval: float | None = None,
    timeout: float = WATCH_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Release:
    """:func:`watch_release` by polling the release and its build log every ``interval``
    seconds (:data:`POLL_S`), for when the socket cannot connect; gives up after ``timeout``."""
    after: int | None = None
    deadline = clock() + timeout
    source = LogSource("build", network, app)

    def drain() -> None:
        nonlocal after
        if on_line is None:
            return
        for line in api.logs(source, release=number, after=after).records:
            after = int(line.get("seq", after or 0))
            on_line(line)

    while True:
        release = api.release(network, app, number)
        drain()
        if release.get("status") in DONE:
            return release
        if clock() >= deadline:
            raise RigError(
                f"release {number} of {app} is still {release.get('status')} after "
                f"{human_seconds(timeout)}",
                hint=f"see `rig list releases --app {app} --network {network}`",
            )
        sleep(POLL_S if interval is None else interval)
