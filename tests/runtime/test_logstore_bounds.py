"""The log store's promises that mutation testing (scripts/mutation-report) found untested:
what a restart reads back, the file's bound, what a hold keeps, the batch subscribers, and
timestamps in UTC whatever the machine's zone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from maxlocal.runtime.logstore import LogBatch, LogStore, format_ts


def kept(store: LogStore, key: str = "k") -> list[str]:
    return [line for batch in store.batches(key) for line in batch.lines]


def file_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def paris_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_timestamps_are_utc_milliseconds_whatever_the_machines_zone(paris_time: None) -> None:
    summer = datetime(2024, 7, 1, 14, 0, 0, 999_000, tzinfo=timezone(timedelta(hours=2)))
    assert format_ts(summer) == "2024-07-01T12:00:00.999Z"
    before = datetime.now(UTC) - timedelta(seconds=1)
    stamped = LogStore().append("k", "stdout", "now").ts
    assert before.strftime("%Y-%m-%dT%H:%M") <= stamped[:16]  # not the local (Paris) time
    assert stamped <= format_ts(datetime.now(UTC))


def test_a_restart_reads_back_every_record_and_carries_on(tmp_path: Path) -> None:
    store = LogStore(tmp_path, limit=6)
    store.append_many("k", "stdout", ["a", "b"], process="web", release=3, app="api")
    store.append("k", "stderr", "c", release=3, app="api")
    before = store.read("k")
    store.close()
    reopened = LogStore(tmp_path, limit=6)
    assert reopened.read("k") == before
    assert {(r.key, r.release, r.app) for r in before} == {("k", 3, "api")}
    assert reopened.last_seq("k") == 3
    assert reopened.append("k", "stdout", "d").seq == 4


def test_a_damaged_or_repeated_line_does_not_stop_the_reading(tmp_path: Path) -> None:
    """A line cut short by a crash, or a seq written twice, is skipped and the rest read."""
    record = {"ts": "2024-01-01T00:00:00.000Z", "key": "k", "stream": "stdout"}
    rows = [{"seq": 1, **record, "line": "one"}, {"seq": 2, **record, "line": "two"}]
    rows += [{"seq": 2, **record, "line": "two again"}, {"seq": 3, **record, "line": "three"}]
    text = [json.dumps(row) for row in rows]
    (tmp_path / "k.jsonl").write_text("\n".join([*text[:2], '{"seq": 9, "tr', *text[2:]]) + "\n")
    store = LogStore(tmp_path)
    assert [(r.seq, r.line) for r in store.read("k")] == [(1, "one"), (2, "two"), (3, "three")]
    assert store.append("k", "stdout", "four").seq == 4


def test_a_restart_keeps_memory_to_the_limit(tmp_path: Path) -> None:
    store = LogStore(tmp_path, limit=5, hold_chars=1000)
    for i in range(9):
        store.append("k", "stdout", f"line {i}")
    store.close()
    reopened = LogStore(tmp_path, limit=5, hold_chars=1000)
    reopened.append("k", "stdout", "line 9")
    assert kept(reopened) == [f"line {i}" for i in range(5, 10)]  # the count read back
    small = LogStore(tmp_path, limit=100, hold_chars=15)  # the text read back counts too
    small.append("k", "stdout", "x" * 12)
    assert kept(small) == ["x" * 12]


def test_the_file_holds_at_most_twice_the_limit_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "k.jsonl"
    for round_ in range(4):  # each round compacts, then appends enough to compact again
        store = LogStore(tmp_path, limit=5)
        for i in range(15):
            store.append("k", "stdout", f"{round_}.{i}")
            assert len(file_lines(path)) <= 10
        store.close()
    reopened = LogStore(tmp_path, limit=5)
    assert [r.line for r in reopened.read("k")] == [f"3.{i}" for i in range(10, 15)]


def test_a_batch_larger_than_the_limit_leaves_exactly_the_limit_in_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "k.jsonl"
    store = LogStore(tmp_path, limit=4)
    store.append_many("k", "stdout", ["old 1", "old 2"])
    store.append_many("k", "stdout", [f"big {i}" for i in range(11)])
    assert [json.loads(line)["line"] for line in file_lines(path)] == [
        f"big {i}" for i in range(7, 11)
    ]
    for i in range(4):  # and the count of what is in the file stays right after it
        store.append("k", "stdout", f"after {i}")
    assert len(file_lines(path)) == 8
    store.close()
    assert [r.line for r in LogStore(tmp_path, limit=4).read("k")] == [
        f"after {i}" for i in range(4)
    ]


def crashed_mid_write(directory: Path, limit: int) -> LogStore:
    """A store whose file ends in a record cut short by a crash, opened again."""
    store = LogStore(directory, limit=limit)
    for line in ("a", "b", "c"):
        store.append("k", "stdout", line)
    store.close()
    with open(directory / "k.jsonl", "a", encoding="utf-8") as f:
        f.write('{"seq": 4, "ts": "cut sho')
    return LogStore(directory, limit=limit)


@pytest.mark.parametrize("limit", [10, 2], ids=["appended", "compacted"])
def test_a_line_cut_short_by_a_crash_does_not_swallow_the_next_record(
    tmp_path: Path, limit: int
) -> None:
    """The record after the cut one starts a line of its own, whether it is appended to the
    file or the file is compacted with it: read back after another restart, none is lost."""
    reopened = crashed_mid_write(tmp_path, limit)
    reopened.append("k", "stdout", "d")
    reopened.append("k", "stdout", "e")
    reopened.close()
    again = LogStore(tmp_path, limit=limit)
    assert [(r.seq, r.line) for r in again.read("k")][-2:] == [(4, "d"), (5, "e")]


def test_a_file_removed_under_the_store_is_written_again(tmp_path: Path) -> None:
    store = LogStore(tmp_path, limit=2)
    for line in "abcd":
        store.append("k", "stdout", line)
    store.close()
    (tmp_path / "k.jsonl").unlink()
    store.append("k", "stdout", "e")  # due to compact a file that is gone
    store.append("k", "stdout", "f")
    assert [json.loads(row)["line"] for row in file_lines(tmp_path / "k.jsonl")] == ["e", "f"]


def test_limit_one_and_nested_directories_are_fine_and_zero_is_refused(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "a" / "b", limit=1)
    store.append("k", "stdout", "x")
    store.append("k", "stdout", "y")
    assert [r.line for r in store.read("k")] == ["y"]
    with pytest.raises(ValueError, match=r"^limit must be at least 1$"):
        LogStore(limit=0)


def test_a_hold_keeps_from_the_line_after_its_seq_up_to_fifty_limits_by_default() -> None:
    store = LogStore(limit=3)
    store.append_many("k", "stdout", ["1", "2", "3"])
    hold = store.hold("k", 2)
    for i in range(4, 151):  # 148 lines kept for the reader: within 50 limits
        store.append("k", "stdout", f"{i}")
    assert store.batches("k")[0].first == 3  # line 3 on, not line 2: all a reader needs
    hold.release()
    store.append("k", "stdout", "151")
    assert kept(store) == ["149", "150", "151"]  # released: back to the limit


def test_a_line_longer_than_the_text_budget_stays_alone() -> None:
    store = LogStore(limit=10, hold_chars=5)
    store.append_many("k", "stdout", ["aaaaaa", "bbbbbb", "cccccc"])
    assert kept(store) == ["cccccc"]
    store.append_many("k", "stdout", ["dd", "ee"])
    assert kept(store) == ["dd", "ee"]
    assert all(batch.lines for batch in store.batches("k"))  # no empty batch left behind


def test_the_text_budget_counts_every_batch() -> None:
    store = LogStore(limit=100, hold_chars=10)
    for word in ("aaaa", "bbbb", "cccc"):
        store.append("k", "stdout", word)
    assert kept(store) == ["bbbb", "cccc"]
    for word in ("dddddd", "eeeeee", "ffffff"):  # each over half the budget: one at a time
        store.append("k", "stdout", word)
    assert kept(store) == ["ffffff"]


def test_lines_after_a_seq_never_include_it_and_most_counts_across_batches() -> None:
    store = LogStore()
    store.append_many("k", "stdout", ["1", "2"])
    store.append_many("k", "stdout", ["3", "4"])
    store.append_many("k", "stdout", ["5", "6"])
    assert [b.lines for b in store.batches("k", after=3)] == [("4",), ("5", "6")]
    assert [b.lines for b in store.batches("k", after=0, most=3)] == [("1", "2"), ("3",)]
    assert [b.lines for b in store.batches("k", after=1, most=4)] == [("2",), ("3", "4"), ("5",)]


def test_batch_subscribers_get_each_batch_once_and_a_failing_one_is_dropped() -> None:
    store = LogStore()
    got: list[LogBatch] = []

    def broken(batch: LogBatch) -> None:
        raise RuntimeError("gone")

    store.subscribe_batches("k", broken)
    unsubscribe = store.subscribe_batches("k", got.append)
    first = store.append_many("k", "stdout", ["a", "b"], release=2, app="api")
    store.append("other", "stdout", "not mine")
    store.append("k", "stdout", "c")
    unsubscribe()
    unsubscribe()  # twice is harmless
    store.append("k", "stdout", "d")
    assert got[0] == first and (got[0].release, got[0].app, got[0].key) == (2, "api", "k")
    assert [b.lines for b in got] == [("a", "b"), ("c",)]


def test_delete_and_close_are_safe_on_keys_without_a_file_and_can_be_repeated(
    tmp_path: Path,
) -> None:
    store = LogStore(tmp_path)
    store.delete("never-used")
    store.append("k", "stdout", "a")
    store.delete("k")
    store.delete("k")
    assert store.append("k", "stdout", "again").seq == 1
    store.close()
    store.close()
    store.append("k", "stdout", "after close")  # reopens its file
    store.close()
    assert [r.line for r in LogStore(tmp_path).read("k")] == ["again", "after close"]
    (tmp_path / "k.jsonl").unlink()  # closed means closed: the next line goes to a new file
    store.append("k", "stdout", "new file")
    assert [json.loads(row)["line"] for row in file_lines(tmp_path / "k.jsonl")] == ["new file"]
