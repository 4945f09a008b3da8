"""Log bytes per app are bounded: long lines are dropped by their text, in memory and in the
file, not only by their count."""

from __future__ import annotations

from pathlib import Path

from maxlocal.runtime.logstore import LogStore

LINE = "x" * 10_000


def test_long_lines_are_kept_within_the_byte_limit_in_memory_and_on_disk(tmp_path: Path) -> None:
    store = LogStore(tmp_path, limit=10_000, limit_bytes=100_000)
    for i in range(500):  # 5 MB of text, far under the line limit
        store.append_many("net/app", "stdout", [f"{i:04d}{LINE}"])
    kept = store.read("net/app")
    assert 9 <= len(kept) <= 10
    assert kept[-1].line.startswith("0499")
    size = (tmp_path / "net%2Fapp.jsonl").stat().st_size
    assert size <= 2 * 100_000 + 20_000  # at most twice the limit, give or take a record
    assert store.file_size("net/app") == size
    store.close()
    reopened = LogStore(tmp_path, limit=10_000, limit_bytes=100_000)
    assert [r.line for r in reopened.read("net/app")][-1].startswith("0499")
    assert sum(len(r.line) for r in reopened.read("net/app")) <= 100_000


def test_a_line_longer_than_the_byte_limit_is_still_kept_alone(tmp_path: Path) -> None:
    store = LogStore(tmp_path, limit_bytes=1_000)
    store.append("k", "stdout", "short")
    store.append("k", "stdout", LINE)
    assert [r.line for r in store.read("k")] == [LINE]


def test_a_slow_follower_keeps_its_lines_past_the_byte_limit(tmp_path: Path) -> None:
    store = LogStore(limit_bytes=30_000, hold_chars=1_000_000)
    hold = store.hold("k", 0)
    for i in range(20):
        store.append("k", "stdout", f"{i:02d}{LINE}")
    assert len(store.batches("k", 0)) == 20  # kept for the follower
    hold.release()
    assert len(store.batches("k", 0)) == 2  # 2 lines of 10,002 characters fit in 30,000
