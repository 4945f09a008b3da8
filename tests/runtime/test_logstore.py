from __future__ import annotations

import gc
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maxlocal.grep import GrepError, line_match
from maxlocal.runtime.logstore import LogRecord, LogStore

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_seq_timestamps_and_bounded_retention() -> None:
    store = LogStore(limit=5)
    for i in range(8):
        store.append("shop/api", "stdout", f"line {i}", process="web")
    store.append("shop/other", "stderr", "elsewhere")
    records = store.read("shop/api")
    assert [r.seq for r in records] == [4, 5, 6, 7, 8]
    assert records[0].line == "line 3" and records[0].process == "web"
    assert all(TS.match(r.ts) for r in records)
    assert [r.seq for r in store.read("shop/other")] == [1]
    assert store.read("unknown") == []
    assert store.last_seq("shop/api") == 8


def test_read_filters() -> None:
    store = LogStore()
    for i in range(10):
        store.append("k", "stdout" if i % 2 else "stderr", f"GET /{i}")
    assert [r.seq for r in store.read("k", after=7)] == [8, 9, 10]
    assert [r.seq for r in store.read("k", tail=2)] == [9, 10]
    assert store.read("k", tail=0) == []
    ends_in_3_or_5 = line_match(r"/[35]$", regex=True)
    assert [r.line for r in store.read("k", grep=ends_in_3_or_5)] == ["GET /3", "GET /5"]
    assert [r.seq for r in store.read("k", grep=line_match("GET"), tail=1, after=2)] == [10]
    assert len(store.read("k", since=datetime.now(UTC) - timedelta(minutes=1))) == 10
    assert store.read("k", since=datetime.now(UTC) + timedelta(minutes=1)) == []
    first = store.read("k")[4].ts
    assert store.read("k", since=first)[0].seq <= 5
    with pytest.raises(GrepError):
        line_match("(", regex=True)


def test_subscribers_get_records_in_order_and_can_leave() -> None:
    store = LogStore()
    got: list[LogRecord] = []
    unsubscribe = store.subscribe("k", got.append)
    store.append("k", "stdout", "one")
    store.append("other", "stdout", "not mine")
    unsubscribe()
    store.append("k", "stdout", "two")
    assert [r.line for r in got] == ["one"]


def test_a_failing_subscriber_is_dropped_and_others_still_served() -> None:
    store = LogStore()
    got: list[str] = []

    def broken(record: LogRecord) -> None:
        raise RuntimeError("gone")

    store.subscribe("k", broken)
    store.subscribe("k", lambda r: got.append(r.line))
    store.append("k", "stdout", "a")
    store.append("k", "stdout", "b")
    assert got == ["a", "b"]


def test_concurrent_appends_get_unique_ordered_seqs() -> None:
    store = LogStore(limit=100_000)
    seen: list[int] = []
    store.subscribe("k", lambda r: seen.append(r.seq))

    def writer(n: int) -> None:
        for i in range(500):
            store.append("k", "stdout", f"{n}-{i}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == list(range(1, 4001))
    assert [r.seq for r in store.read("k")] == seen


def test_persists_resumes_seq_and_compacts(tmp_path: Path) -> None:
    store = LogStore(tmp_path, limit=10)
    for i in range(35):
        store.append("shop/api", "stdout", f"line {i} ✓")
    store.close()
    path = tmp_path / "shop%2Fapi.jsonl"
    assert path.exists()
    assert len(path.read_text().splitlines()) <= 20

    reopened = LogStore(tmp_path, limit=10)
    assert [r.line for r in reopened.read("shop/api")] == [f"line {i} ✓" for i in range(25, 35)]
    assert reopened.append("shop/api", "stdout", "after restart").seq == 36
    reopened.close()


def test_damaged_lines_are_skipped_and_delete_forgets(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    store.append("k", "stdout", "good")
    store.close()
    with open(tmp_path / "k.jsonl", "a") as f:
        f.write('{"seq": 2, "trunc\n')
    reopened = LogStore(tmp_path)
    assert [r.line for r in reopened.read("k")] == ["good"]
    reopened.delete("k")
    assert not (tmp_path / "k.jsonl").exists()
    assert reopened.read("k") == []


def test_line_by_line_appends_keep_only_the_limit() -> None:
    # how fast appends are is the bench's log throughput figure; here: what stays in memory
    store = LogStore(limit=1000)
    for i in range(1, 20_001):
        store.append("k", "stdout", f"line {i}")
    kept = store.batches("k")
    assert sum(len(batch.lines) for batch in kept) == 1000
    assert [r.seq for r in store.read("k")] == list(range(19_001, 20_001))
    assert store.read("k")[-1].line == "line 20000"


def test_the_file_holds_each_record_as_json_dumps_writes_it(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    lines = ["plain", 'quote " and \\ backslash', "tab\tand \x1b escape", "ünïcödé ✓", ""]
    store.append_many("k", "stdout", lines, process="web", release=2, app="api")
    store.append("k", "platform", "note")
    store.close()
    written = (tmp_path / "k.jsonl").read_text(encoding="utf-8").splitlines()
    expected = [json.dumps(r.to_dict(), ensure_ascii=False) for r in store.read("k")]
    assert written == expected


def test_batches_give_the_lines_after_a_seq_as_they_were_stored() -> None:
    store = LogStore(limit=8)
    store.append_many("k", "stdout", ["a", "b", "c"], process="web")
    store.append("k", "stderr", "d")
    store.append_many("k", "stdout", ["e", "f", "g"])
    batches = store.batches("k", after=2)
    assert [(b.first, b.lines, b.stream) for b in batches] == [
        (3, ("c",), "stdout"),
        (4, ("d",), "stderr"),
        (5, ("e", "f", "g"), "stdout"),
    ]
    assert batches[0].process == "web" and batches[0].records()[0].seq == 3
    gc.collect()  # what is stored is nothing the cyclic GC walks once it has seen it
    assert not any(gc.is_tracked(b.lines) for b in batches)
    assert [b.lines for b in store.batches("k", after=0, most=4)] == [("a", "b", "c"), ("d",)]
    assert store.batches("k", after=7) == []
    store.append_many("k", "stdout", ["h", "i", "j"])  # 10 lines: the first two go
    assert store.batches("k", after=0)[0].first == 3  # past after + 1: 1 and 2 are gone


def test_a_hold_keeps_lines_a_reader_has_not_taken_within_bounds() -> None:
    store = LogStore(limit=10, hold_limit=30)
    store.append_many("k", "stdout", [f"{i}" for i in range(1, 6)])
    hold = store.hold("k", 5)
    for i in range(6, 26):
        store.append("k", "stdout", f"{i}")
    assert store.batches("k", after=5)[0].first == 6  # all 20 kept for the reader
    assert [r.seq for r in store.read("k")] == list(range(16, 26))  # reads see the limit
    store.append_many("k", "stdout", [f"{i}" for i in range(26, 41)])
    assert store.batches("k", after=0)[0].first == 11  # never more than hold_limit
    hold.seq = 35  # the reader took up to 35: the store is back to its limit
    store.append("k", "stdout", "41")
    assert store.batches("k", after=0)[0].first == 32
    hold.release()
    assert store.batches("k", after=0)[0].first == 32
    store.append("k", "stdout", "42")
    assert store.batches("k", after=0)[0].first == 33


def test_a_hold_keeps_no_more_than_hold_chars_of_text() -> None:
    store = LogStore(limit=2, hold_limit=1000, hold_chars=100)
    store.hold("k", 0)
    store.append_many("k", "stdout", ["x" * 10] * 30)
    kept = [line for b in store.batches("k") for line in b.lines]
    assert len(kept) == 10
    store.append("k", "stdout", "y" * 500)  # longer than the budget alone: it stays
    assert [line for b in store.batches("k") for line in b.lines] == ["y" * 500]


def test_lines_read_back_after_a_restart_are_grouped_in_batches_again(tmp_path: Path) -> None:
    store = LogStore(tmp_path, limit=100)
    store.append_many("k", "stdout", ["a", "b", "c"], process="web")
    store.append_many("k", "stderr", ["d", "e"], process="web")
    store.append("k", "stderr", "f", process="worker")
    before = store.read("k")
    store.close()
    reopened = LogStore(tmp_path, limit=100)
    assert reopened.read("k") == before
    assert [b.lines for b in reopened.batches("k")] == [("a", "b", "c"), ("d", "e"), ("f",)]
    gc.collect()  # stored lines, read back too, are nothing the cyclic GC walks
    assert not any(gc.is_tracked(b.lines) for b in reopened.batches("k"))
