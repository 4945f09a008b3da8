"""The follower's own rules for no line lost or shown twice, where mutation testing
(scripts/mutation-report) found the tests silent: a seq equal to the last shown is dropped,
a gap of a single line is still told, every batch of a ``logs`` event comes out, and a
malformed batch does not hide the ones after it."""

from __future__ import annotations

from typing import Any

from rig.transport.follow import LogFollower
from rig.transport.socket import Closed, Connected, Reconnecting, Socket, SocketClosed
from tests.realtime.conftest import arun

TOPIC = "logs:app:alpha/web"
SHARED = {"ts": "t", "app": "web", "stream": "stdout"}


def follower(after: int | None) -> LogFollower:
    return LogFollower(Socket("http://127.0.0.1:1"), [TOPIC], after={TOPIC: after})


def seqs(records: list[dict[str, Any]]) -> list[Any]:
    return [r.get("seq", f"skipped {r.get('skipped')}") for r in records]


def test_a_line_with_the_last_seq_shown_is_dropped() -> None:
    async def main() -> list[dict[str, Any]]:
        f = follower(after=3)
        for seq in (3, 4, 4, 5):
            f._log(TOPIC, {"seq": seq, **SHARED, "line": f"{seq}"})
        return await f.batch()

    assert seqs(arun(main())) == [4, 5]


def test_a_gap_of_one_line_is_told() -> None:
    async def main() -> list[dict[str, Any]]:
        f = follower(after=3)
        f._joined(TOPIC, {"first_seq": 5})  # seq 4 is no longer kept
        f._log(TOPIC, {"seq": 5, **SHARED, "line": "5"})
        return await f.batch()

    got = arun(main())
    assert got == [{"topic": TOPIC, "skipped": 1}, {"seq": 5, **SHARED, "line": "5"}]


def test_every_batch_of_an_event_comes_out_and_a_bad_one_hides_none() -> None:
    async def main() -> list[dict[str, Any]]:
        f = follower(after=0)
        bad = {"seq": "x", **SHARED, "lines": ["?"]}
        shown = {"seq": 1, **SHARED, "lines": ["1"]}
        f._logs(TOPIC, {"batches": [{"seq": 1, **SHARED, "lines": ["1"]}]})
        batches = [bad, shown, {"seq": 2, **SHARED, "lines": ["2", "3"], "release": 7}]
        later = {"seq": 4, **SHARED, "lines": ["4"], "release": 7}  # with a field more
        f._logs(TOPIC, {"batches": [*batches, later]})
        return await f.batch()

    assert seqs(arun(main())) == [1, 2, 3, 4]


def test_a_line_told_as_skipped_is_not_shown_after_all() -> None:
    """After a gap marker for seq 4, a late seq 4 (sent before the platform dropped it) would
    be a line both skipped and shown."""

    async def main() -> list[dict[str, Any]]:
        f = follower(after=3)
        f._joined(TOPIC, {"first_seq": 5})
        for seq in (4, 5):
            f._log(TOPIC, {"seq": seq, **SHARED, "line": f"{seq}"})
        return await f.batch()

    assert seqs(arun(main())) == ["skipped 1", 5]


def test_a_join_asks_for_batches_after_the_last_line_shown() -> None:
    """``after`` only once a line was shown (the platform replays from it, gapless); a live
    start sends none. ``batch`` always: lines come in ``logs`` events of many."""
    live, resumed = follower(after=None), follower(after=3)
    assert live._params(TOPIC)() == {"batch": True}
    assert resumed._params(TOPIC)() == {"after": 3, "batch": True}
    live._log(TOPIC, {"seq": 9, **SHARED, "line": "9"})
    assert live._params(TOPIC)() == {"after": 9, "batch": True}  # re-read at each rejoin


def test_a_gap_event_from_the_platform_is_told_as_lines_skipped() -> None:
    """The channel's ``gap`` event (the client fell too far behind) reaches the follower:
    without it the lines would be missing with nothing said."""

    async def main() -> list[dict[str, Any]]:
        f = follower(after=3)
        (channel,) = f._channels
        channel._trigger("gap", {"after": 3, "first_seq": 7}, None)
        channel._trigger("logs", {"batches": [{"seq": 7, **SHARED, "lines": ["7"]}]}, None)
        return await f.batch()

    assert seqs(arun(main())) == ["skipped 3", 7]


def test_an_outage_does_not_end_the_follow_and_a_close_for_good_does() -> None:
    async def main() -> list[Any]:
        f = follower(after=3)
        f._state(Reconnecting(1, 0.5, "connection lost"))
        f._state(Connected())
        f._log(TOPIC, {"seq": 4, **SHARED, "line": "4"})
        f._state(Closed(1000, "bye"))
        got: list[Any] = list(await f.batch())
        try:
            await f.batch()
        except SocketClosed as closed:
            got.append((closed.code, closed.reason))
        return got

    got = arun(main())
    assert seqs(got[:1]) == [4] and got[1:] == [(1000, "bye")]


def test_event_topics_yield_their_events_and_each_rejoin() -> None:
    """``status:user`` events come out as ``{"topic", "event", "payload"}``; a rejoin (after
    a reconnect) as event ``rejoined``, so that what was missed meanwhile is read again
    (rig deploy reads its release again then); the first join is no rejoin."""

    async def main() -> list[dict[str, Any]]:
        f = LogFollower(Socket("http://127.0.0.1:1"), [], events={"status:user": ["release"]})
        (channel,) = f._channels
        for callback in channel._on_joined:
            callback({})
        channel._trigger("release", {"number": 2, "status": "active"}, None)
        channel._trigger("app_state", {"state": "crashed"}, None)  # not asked for
        for callback in channel._on_joined:
            callback({})
        return await f.batch()

    assert arun(main()) == [
        {"topic": "status:user", "event": "release", "payload": {"number": 2, "status": "active"}},
        {"topic": "status:user", "event": "rejoined", "payload": {}},
    ]


def test_the_follow_ends_when_the_platform_closes_its_last_topic() -> None:
    """An app deleted while followed: the platform closes its topic (``phx_close``); the
    lines before it come out, then the follow ends. One topic of two closed goes on."""

    async def main() -> list[Any]:
        other = "logs:app:alpha/worker"
        f = LogFollower(Socket("http://127.0.0.1:1"), [TOPIC, other], after={TOPIC: 0, other: 0})
        web, worker = f._channels
        web._trigger("log", {"seq": 1, **SHARED, "line": "1"}, None)
        web._trigger("phx_close", {}, None)
        worker._trigger("log", {"seq": 1, **SHARED, "line": "w1"}, None)
        worker._trigger("phx_close", {}, None)
        got: list[Any] = [r["line"] for r in await f.batch()]
        try:
            await f.batch()
        except StopAsyncIteration:
            got.append("ended")
        return got

    assert arun(main()) == ["1", "w1", "ended"]
