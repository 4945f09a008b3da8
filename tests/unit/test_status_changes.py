"""``status --watch`` reads the status again once per burst of events that concern it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rig.commands.status import changes
from rig.transport.follow import REJOINED


class Arrivals:
    """Events as a ``Following`` yields them: in batches, each what had arrived together."""

    def __init__(self, batches: list[list[dict[str, Any]]]) -> None:
        self.batches = batches
        self.left_in_batch = 0
        self.last: dict[str, Any] = {}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.batches:
            for i, event in enumerate(batch):
                self.left_in_batch, self.last = len(batch) - i - 1, event
                yield event

    def has_more(self) -> bool:
        return self.left_in_batch > 0


def release(app: str) -> dict[str, Any]:
    return {"topic": "status:user", "event": "release", "payload": {"app": app}}


def reads(batches: list[list[dict[str, Any]]], app: str | None = None) -> list[str]:
    """After which event the status is read again."""
    arrivals = Arrivals(batches)

    def concerns(payload: dict[str, Any]) -> bool:
        return app is None or payload.get("app") == app

    return [
        str(arrivals.last["payload"].get("app", arrivals.last["event"]))
        for _ in changes(arrivals, arrivals.has_more, concerns)
    ]


def test_a_burst_is_read_once_at_its_end() -> None:
    burst = [release(f"app{i}") for i in range(20)]
    assert reads([burst]) == ["app19"]


def test_events_that_came_apart_are_read_each() -> None:
    assert reads([[release("a")], [release("b")], [release("c")]]) == ["a", "b", "c"]


def test_only_events_that_concern_the_status_count() -> None:
    assert reads([[release("web")], [release("api")], [release("worker")]], app="api") == ["api"]
    # a burst whose concerning event is not its last is still read, once, at the end
    assert reads([[release("api"), release("web"), release("worker")]], app="api") == ["worker"]
    assert reads([[release("web"), release("worker")]], app="api") == []


def test_a_rejoin_reads_again_since_events_may_have_been_missed() -> None:
    rejoined = {"topic": "status:user", "event": REJOINED, "payload": {}}
    assert reads([[rejoined]], app="api") == [REJOINED]
