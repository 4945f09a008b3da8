"""The three logs of docs/api.md (an app's output, its builds, a network's) and how rig reads
them: the stored tail first (:meth:`rig.api.client.Api.logs`), then live from the seq the
platform said the tail ended at, so that nothing is missed and nothing comes twice."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rig.api.topics import log_topic

if TYPE_CHECKING:
    from rig.api.client import LogPage
    from rig.context import Context
    from rig.transport.follow import Following


@dataclass(frozen=True)
class LogSource:
    """Which log: ``kind`` is ``app``, ``build`` or ``network`` (then ``app`` is None)."""

    kind: str
    network: str
    app: str | None = None

    @property
    def topic(self) -> str:
        """The realtime topic of these lines."""
        return log_topic(self.kind, self.network, self.app)


Line = Mapping[str, Any]


def tail_then_follow(
    page: LogPage, follow: Callable[[int | None], Iterable[Line]] | None
) -> Iterator[Line]:
    """The stored lines of ``page``, then (with ``follow``) the live ones from where they end."""
    yield from page.records
    if follow is not None:
        yield from follow(page.resume_after)


def follow_log(ctx: Context, source: LogSource, after: int | None) -> Following:
    """Live lines of ``source`` after seq ``after`` (all new ones when None), on the command's
    socket; patient, since its caller has just been answered by the platform."""
    from rig.api.live import following

    start = {source.topic: after} if after is not None else None
    return following(ctx, [source.topic], after=start, patient=True)
