"""A bounded log store per key (an app, or an app's builds), with live subscribers.

Each key keeps its last ``limit`` records in memory. With a ``directory``, every
record is also appended to ``<directory>/<key>.jsonl``; the file is rewritten with
the last ``limit`` records once it holds twice that many, and is read back (lazily,
on first use of the key) after a restart so sequence numbers carry on.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple
from urllib.parse import quote

DEFAULT_LIMIT = 10_000


class LogRecord(NamedTuple):
    """One stored line (a tuple: made several times faster than a frozen dataclass)."""

    seq: int
    ts: str
    key: str
    stream: str
    line: str
    process: str | None = None
    release: int | None = None
    app: str | None = None  # in a network's log: the app the line came from

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


Subscriber = Callable[[LogRecord], None]


def format_ts(moment: datetime) -> str:
    """RFC 3339, UTC, milliseconds: ``2024-05-01T12:00:00.123Z``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class _Log:
    def __init__(self, limit: int) -> None:
        self.records: deque[LogRecord] = deque(maxlen=limit)
        self.seq = 0
        self.lock = threading.Lock()
        self.subscribers: list[Subscriber] = []
        self.file: IO[str] | None = None
        self.file_lines = 0
        self.path: Path | None = None


class LogStore:
    def __init__(self, directory: str | Path | None = None, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._logs: dict[str, _Log] = {}
        self._lock = threading.Lock()

    def append(
        self,
        key: str,
        stream: str,
        line: str,
        *,
        process: str | None = None,
        release: int | None = None,
        app: str | None = None,
    ) -> LogRecord:
        """Store one line (without its newline) and hand it to the key's subscribers."""
        return self.append_many(key, stream, [line], process=process, release=release, app=app)[0]

    def append_many(
        self,
        key: str,
        stream: str,
        lines: list[str],
        *,
        process: str | None = None,
        release: int | None = None,
        app: str | None = None,
    ) -> list[LogRecord]:
        """Store lines that arrived together (one timestamp, one write to the file, made before
        any subscriber hears of them) and hand each to the key's subscribers.

        Subscribers are called in order, under the key's lock: they must be quick and
        must not call back into the store for the same key.
        """
        log = self._log(key)
        with log.lock:
            now = format_ts(datetime.now(UTC))
            first = log.seq + 1
            records = [
                LogRecord(seq, now, key, stream, line, process, release, app)
                for seq, line in enumerate(lines, first)
            ]
            log.seq += len(records)
            log.records.extend(records)
            self._persist(log, records)
            for callback in list(log.subscribers):
                try:
                    for record in records:
                        callback(record)
                except Exception:
                    log.subscribers.remove(callback)
        return records

    def read(
        self,
        key: str,
        after: int | None = None,
        tail: int | None = None,
        since: datetime | str | None = None,
        grep: str | re.Pattern[str] | None = None,
    ) -> list[LogRecord]:
        """Records with ``seq > after``, at or after ``since``, whose line matches ``grep``
        (a regex, searched); of those, the last ``tail``. An invalid regex raises re.error."""
        pattern = re.compile(grep) if isinstance(grep, str) else grep
        since_ts = format_ts(since) if isinstance(since, datetime) else since
        log = self._log(key)
        with log.lock:
            records = list(log.records)
        selected = [
            r
            for r in records
            if (after is None or r.seq > after)
            and (since_ts is None or r.ts >= since_ts)
            and (pattern is None or pattern.search(r.line))
        ]
        if tail is not None:
            selected = selected[-tail:] if tail > 0 else []
        return selected

    def last_seq(self, key: str) -> int:
        log = self._log(key)
        with log.lock:
            return log.seq

    def subscribe(self, key: str, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every new record of ``key``; returns the unsubscribe function.

        A callback that raises is dropped."""
        log = self._log(key)
        with log.lock:
            log.subscribers.append(callback)
        return lambda: self.unsubscribe(key, callback)

    def unsubscribe(self, key: str, callback: Subscriber) -> None:
        log = self._log(key)
        with log.lock:
            if callback in log.subscribers:
                log.subscribers.remove(callback)

    def delete(self, key: str) -> None:
        """Forget a key and its file (the app was deleted)."""
        with self._lock:
            log = self._logs.pop(key, None)
        if log is not None:
            with log.lock:
                if log.file is not None:
                    log.file.close()
        path = self._path(key)
        if path is not None:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            logs = list(self._logs.values())
        for log in logs:
            with log.lock:
                if log.file is not None:
                    log.file.close()
                    log.file = None

    def _path(self, key: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / (quote(key, safe="") + ".jsonl")

    def _log(self, key: str) -> _Log:
        with self._lock:
            log = self._logs.get(key)
            if log is None:
                log = self._logs[key] = _Log(self.limit)
                log.path = self._path(key)
                self._load(log)
            return log

    def _load(self, log: _Log) -> None:
        path = log.path
        if path is None or not path.exists():
            return
        with open(path, encoding="utf-8") as f:
            for text in f:
                log.file_lines += 1
                try:
                    record = LogRecord(**json.loads(text))
                except (ValueError, TypeError):
                    continue
                log.records.append(record)
                log.seq = max(log.seq, record.seq)

    def _persist(self, log: _Log, records: list[LogRecord]) -> None:
        """Append ``records`` (already in memory) to the key's file, compacting when due."""
        path = log.path
        if path is None:
            return
        if log.file_lines + len(records) > 2 * self.limit:
            self._rewrite(path, log, records)
            return
        if log.file is None:
            log.file = open(path, "a", encoding="utf-8")  # noqa: SIM115
        log.file.write(_encode(records))
        log.file.flush()
        log.file_lines += len(records)

    def _rewrite(self, path: Path, log: _Log, records: list[LogRecord]) -> None:
        """The file's last ``limit`` lines with ``records`` (copied as text: re-encoding them
        all would cost a log flood as much again as storing it)."""
        if log.file is not None:
            log.file.close()
            log.file = None
        kept: deque[str] = deque(maxlen=max(0, self.limit - len(records)))
        with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as f:
            kept.extend(f)
        if kept and not kept[-1].endswith("\n"):  # cut short by a crash
            kept.pop()
        temporary = path.with_suffix(".jsonl.tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            f.writelines(kept)
            f.write(_encode(records[-self.limit :]))
        os.replace(temporary, path)
        log.file_lines = len(kept) + min(len(records), self.limit)


_VALUE = json.JSONEncoder(ensure_ascii=False).encode
_STRING = json.encoder.encode_basestring  # a str as _VALUE writes it, faster


def _encode(batch: list[LogRecord]) -> str:
    """JSON lines, each as ``json.dumps(record.to_dict(), ensure_ascii=False)`` writes it. The
    records of a batch (of one ``append_many``) differ only in seq and line: the rest is
    encoded once (a flood's lines cost a fifth of encoding each whole)."""
    if not batch:
        return ""
    first = batch[0]
    middle = (
        f', "ts": {_VALUE(first.ts)}, "key": {_VALUE(first.key)},'
        f' "stream": {_VALUE(first.stream)}, "line": '
    )
    end = (
        f', "process": {_VALUE(first.process)}, "release": {_VALUE(first.release)},'
        f' "app": {_VALUE(first.app)}}}\n'
    )
    return "".join(f'{{"seq": {r.seq}{middle}{_STRING(r.line)}{end}' for r in batch)
