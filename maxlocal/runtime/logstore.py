"""A bounded log store per key (an app, or an app's builds), with live subscribers.

Each key keeps its last ``limit`` records, within ``limit_bytes`` of text, in memory, as the
batches they were appended in (``LogBatch``: the lines of one ``append_many`` share
everything but their seq, so a flood costs a tuple of strings, not an object per line).
With a ``directory``, every record is also appended to ``<directory>/<key>.jsonl``; the file
is rewritten with the last ``limit`` records (within ``limit_bytes``) once it holds twice
that many or that much, and is read back (lazily, on first use of the key) after a restart
so sequence numbers carry on.

Readers that follow a key live (the realtime socket) take what is new by position:
``batches(key, after, most)`` gives the lines after a seq without copying the rest, and
``subscribe_batches`` says when there is more (once per batch, not per line). A reader that
falls behind (its client is slower than the app) holds its place (``hold``): lines it has not
taken are kept past ``limit``, within ``hold_limit`` lines and ``hold_chars`` characters, so
memory stays bounded whoever is slow. ``read`` (the API's reads) sees the last ``limit``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple
from urllib.parse import quote

DEFAULT_LIMIT = 10_000
DEFAULT_LIMIT_BYTES = 8 * 1024 * 1024
"""Log text kept per key (in memory; the file, with its JSON around each line, twice that at
most): an app writing long lines is bounded by this rather than by ``DEFAULT_LIMIT`` lines.
Measured in characters, which is bytes for ASCII."""
# What a reader that falls behind (a live follower slower than the app) can have kept for it
# beyond the limit. A flood runs at ~200,000 lines/s here, and a follower printing 20 % slower
# than that falls ~40,000 lines further behind each second: fifty limits' worth keeps ten
# seconds of it. The text held is capped too, which bounds the memory whatever the lines.
HOLD_FACTOR = 50
HOLD_CHARS = 32 * 1024 * 1024


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


class LogBatch(NamedTuple):
    """Lines stored together: seqs ``first``, ``first + 1``, ... and the same everything else.

    ``lines`` is a tuple, not a list: a tuple of strings drops out of the cyclic GC after its
    first collection, a list never does. An app writing a line at a time keeps ~10,000 batches
    per key (twice: the app's log and the network's), and each tracked object is one more a
    full collection walks while it holds up every line on its way out (the log latency)."""

    first: int
    ts: str
    key: str
    stream: str
    lines: tuple[str, ...]
    process: str | None = None
    release: int | None = None
    app: str | None = None

    @property
    def last(self) -> int:
        return self.first + len(self.lines) - 1

    def records(self) -> list[LogRecord]:
        _, ts, key, stream, _, process, release, app = self
        return [
            LogRecord(seq, ts, key, stream, line, process, release, app)
            for seq, line in enumerate(self.lines, self.first)
        ]

    def after(self, seq: int | None, most: int | None = None) -> LogBatch:
        """The part with seqs above ``seq``, at most ``most`` lines of it (itself if that is
        all of it)."""
        start = 0 if seq is None else max(0, seq - self.first + 1)
        stop = len(self.lines) if most is None else min(len(self.lines), start + most)
        if start == 0 and stop == len(self.lines):
            return self
        return self._replace(first=self.first + start, lines=self.lines[start:stop])


def process_fields(stored: str | None) -> dict[str, str | None]:
    """A line's ``process`` as the API gives it: the process type and the instance that wrote
    it (``web.1`` is stored; ``{"process": "web", "instance": "web.1"}``). Lines stored
    before instances were recorded name only their type."""
    if stored is None:
        return {"process": None, "instance": None}
    kind, dot, number = stored.rpartition(".")
    if dot and number.isdigit():
        return {"process": kind, "instance": stored}
    return {"process": stored, "instance": None}


Subscriber = Callable[[LogRecord], None]
BatchSubscriber = Callable[[LogBatch], None]


def format_ts(moment: datetime) -> str:
    """RFC 3339, UTC, milliseconds: ``2024-05-01T12:00:00.123Z``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class LogHold:
    """A reader's place in a key's log (``LogStore.hold``): the lines after ``seq`` are kept
    for it beyond the store's ``limit``, up to its ``hold_limit`` lines or ``hold_chars``
    characters in all. The reader moves ``seq`` on as it takes lines."""

    def __init__(self, log: _Log, seq: int) -> None:
        self._log, self.seq = log, seq

    def release(self) -> None:
        with self._log.lock:
            if self in self._log.holds:
                self._log.holds.remove(self)
                self._log.trim()


class _Log:
    def __init__(self, limit: int, hold_limit: int, hold_chars: int, limit_chars: int) -> None:
        self.limit, self.hold_limit, self.hold_chars = limit, hold_limit, hold_chars
        self.limit_chars = limit_chars
        self.batches: deque[LogBatch] = deque()
        self.count = 0  # lines in batches
        self.chars = 0  # their length
        self.seq = 0
        self.lock = threading.Lock()
        self.subscribers: list[Subscriber] = []
        self.batch_subscribers: list[BatchSubscriber] = []
        self.holds: list[LogHold] = []
        self.file: IO[str] | None = None
        self.file_lines = 0
        self.file_chars = 0
        self.path: Path | None = None

    def add(self, batch: LogBatch) -> None:
        """Keep ``batch``, then only what is to be kept."""
        self.batches.append(batch)
        self.count += len(batch.lines)
        self.chars += sum(map(len, batch.lines))
        self.seq = max(self.seq, batch.last)
        self.trim()

    def trim(self) -> None:
        """Keep the last ``limit`` lines within ``limit_chars``, and older ones a hold still
        needs, but never more than ``hold_limit`` lines or ``hold_chars`` characters."""
        excess = self.count - self.limit
        if self.chars > self.limit_chars:
            excess = max(excess, self._oldest(self.chars - self.limit_chars))
        if excess > 0 and self.holds and self.batches:
            needed = min(hold.seq for hold in self.holds) + 1  # the oldest seq a hold needs
            excess = min(excess, max(0, needed - self.batches[0].first))
        self._drop(max(excess, self.count - self.hold_limit))
        if self.chars > self.hold_chars:
            self._drop(self._oldest(self.chars - self.hold_chars))

    def _oldest(self, chars: int) -> int:
        """How many of the oldest lines hold ``chars`` characters (never the newest line)."""
        if chars <= 0:
            return 0
        lines = 0
        for batch in self.batches:
            for line in batch.lines:
                lines += 1
                chars -= len(line)
                if chars <= 0:
                    return min(lines, self.count - 1)
        return max(0, self.count - 1)

    def _drop(self, lines: int) -> None:
        """Forget the oldest ``lines`` lines."""
        while lines > 0:
            oldest = self.batches[0]
            if len(oldest.lines) <= lines:
                self.batches.popleft()
                dropped = oldest
            else:
                self.batches[0] = oldest.after(oldest.first + lines - 1)
                dropped = oldest.after(None, lines)
            self.count -= len(dropped.lines)
            self.chars -= sum(map(len, dropped.lines))
            lines -= len(dropped.lines)

    def since(self, after: int | None, most: int | None = None) -> list[LogBatch]:
        """The kept lines with seqs above ``after`` (the first ``most`` of them), as batches."""
        if after is None:
            found = list(self.batches)
        else:
            found = []
            for batch in reversed(self.batches):  # a follower wants the newest few
                if batch.last <= after:
                    break
                found.append(batch)
            found.reverse()
        if found and after is not None and found[0].first <= after:
            found[0] = found[0].after(after)
        if most is not None:
            taken, kept = 0, []
            for batch in found:
                if taken >= most:
                    break
                part = batch.after(None, most - taken)
                kept.append(part)
                taken += len(part.lines)
            found = kept
        return found


class LogStore:
    def __init__(
        self,
        directory: str | Path | None = None,
        limit: int = DEFAULT_LIMIT,
        *,
        hold_limit: int | None = None,
        hold_chars: int = HOLD_CHARS,
        limit_bytes: int = DEFAULT_LIMIT_BYTES,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if limit_bytes < 1:
            raise ValueError("limit_bytes must be at least 1")
        self.limit = limit
        self.limit_bytes = limit_bytes
        self.hold_limit = max(limit, hold_limit or HOLD_FACTOR * limit)
        self.hold_chars = hold_chars
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
        batch = self.append_many(key, stream, [line], process=process, release=release, app=app)
        return batch.records()[0]

    def append_many(
        self,
        key: str,
        stream: str,
        lines: Sequence[str],
        *,
        process: str | None = None,
        release: int | None = None,
        app: str | None = None,
    ) -> LogBatch:
        """Store lines that arrived together (one timestamp, one write to the file, made before
        any subscriber hears of them) and hand them to the key's subscribers: each line to
        those of ``subscribe``, the batch to those of ``subscribe_batches``.

        Subscribers are called in order, under the key's lock: they must be quick and
        must not call back into the store for the same key.
        """
        log = self._log(key)
        with log.lock:
            now = format_ts(datetime.now(UTC))
            batch = LogBatch(log.seq + 1, now, key, stream, tuple(lines), process, release, app)
            if not batch.lines:
                return batch
            log.add(batch)
            self._persist(log, batch)
            if log.subscribers:
                records = batch.records()
                for callback in list(log.subscribers):
                    try:
                        for record in records:
                            callback(record)
                    except Exception:
                        log.subscribers.remove(callback)
            for notify in list(log.batch_subscribers):
                try:
                    notify(batch)
                except Exception:
                    log.batch_subscribers.remove(notify)
        return batch

    def read(
        self,
        key: str,
        after: int | None = None,
        tail: int | None = None,
        since: datetime | str | None = None,
        grep: Callable[[str], bool] | None = None,
    ) -> list[LogRecord]:
        """Records with ``seq > after``, at or after ``since``, whose line ``grep`` keeps
        (``maxlocal.grep.line_match``); of those, the last ``tail``."""
        since_ts = format_ts(since) if isinstance(since, datetime) else since
        log = self._log(key)
        with log.lock:
            oldest = log.seq - self.limit  # more may be kept for readers behind: not for these
            batches = log.since(oldest if after is None else max(after, oldest))
        selected = [
            r
            for batch in batches
            if since_ts is None or batch.ts >= since_ts
            for r in batch.records()
            if grep is None or grep(r.line)
        ]
        if tail is not None:
            selected = selected[-tail:] if tail > 0 else []
        return selected

    def batches(
        self, key: str, after: int | None = None, most: int | None = None
    ) -> list[LogBatch]:
        """The kept lines with ``seq > after`` (at most ``most`` of them), oldest first, in
        the batches they were stored in: what a follower that has shown ``after`` shows next.
        The first one's ``first`` above ``after + 1`` means the lines between are no longer
        kept."""
        log = self._log(key)
        with log.lock:
            return log.since(after, most)

    def hold(self, key: str, seq: int) -> LogHold:
        """Keep the lines of ``key`` after ``seq`` for a reader (see ``LogHold``) until the
        hold is released."""
        log = self._log(key)
        hold = LogHold(log, seq)
        with log.lock:
            log.holds.append(hold)
        return hold

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

    def subscribe_batches(self, key: str, callback: BatchSubscriber) -> Callable[[], None]:
        """Call ``callback`` with every new batch of ``key`` (once per ``append_many``, after it
        is stored: ``batches`` already has it); returns the unsubscribe function. A callback
        that raises is dropped."""
        log = self._log(key)
        with log.lock:
            log.batch_subscribers.append(callback)

        def unsubscribe() -> None:
            with log.lock:
                if callback in log.batch_subscribers:
                    log.batch_subscribers.remove(callback)

        return unsubscribe

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

    def file_size(self, key: str) -> int:
        """Bytes the key's file takes on disk (0 without one)."""
        path = self._path(key)
        try:
            return path.stat().st_size if path is not None else 0
        except OSError:
            return 0

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
                log = self._logs[key] = _Log(
                    self.limit,
                    self.hold_limit,
                    self.hold_chars,
                    min(self.limit_bytes, self.hold_chars),
                )
                log.path = self._path(key)
                self._load(log)
            return log

    def _load(self, log: _Log) -> None:
        path = log.path
        if path is None or not path.exists():
            return
        head: LogRecord | None = None  # the first record of the batch being read
        lines: list[str] = []

        def close_batch() -> None:
            if head is not None:
                log.batches.append(LogBatch(head.seq, *head[1:4], tuple(lines), *head[5:]))

        with open(path, encoding="utf-8") as f:
            for text in f:
                log.file_lines += 1
                log.file_chars += len(text)
                try:
                    r = LogRecord(**json.loads(text))
                except (ValueError, TypeError):
                    continue
                if r.seq <= log.seq:
                    continue
                if head is None or r.seq != log.seq + 1 or head[1:4] != r[1:4] or head[5:] != r[5:]:
                    close_batch()
                    head, lines = r, []
                lines.append(r.line)
                log.count += 1
                log.chars += len(r.line)
                log.seq = r.seq
        close_batch()
        log.trim()

    def _persist(self, log: _Log, batch: LogBatch) -> None:
        """Append ``batch`` (already in memory) to the key's file, compacting when due."""
        path = log.path
        if path is None:
            return
        if log.file_lines + len(batch.lines) > 2 * self.limit:
            self._rewrite(path, log, batch)
            return
        text = _encode(batch)
        if log.file_chars + len(text) > 2 * self.limit_bytes:
            self._rewrite(path, log, batch)
            return
        if log.file is None:
            log.file = open(path, "a", encoding="utf-8")  # noqa: SIM115
            if not _ends_a_line(path):  # a record cut short by a crash: start a line of our own
                log.file.write("\n")
        log.file.write(text)
        log.file.flush()
        log.file_lines += len(batch.lines)
        log.file_chars += len(text)

    def _rewrite(self, path: Path, log: _Log, batch: LogBatch) -> None:
        """The file's last ``limit`` lines within ``limit_bytes`` with ``batch`` (copied as
        text: re-encoding them all would cost a log flood as much again as storing it)."""
        if log.file is not None:
            log.file.close()
            log.file = None
        kept: deque[str] = deque(maxlen=max(0, self.limit - len(batch.lines)))
        with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as f:
            kept.extend(f)
        if kept and not kept[-1].endswith("\n"):  # cut short by a crash
            kept.pop()
        text = _encode(batch.after(batch.last - self.limit))
        chars = sum(map(len, kept)) + len(text)
        while kept and chars > self.limit_bytes:
            chars -= len(kept.popleft())
        temporary = path.with_suffix(".jsonl.tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            f.writelines(kept)
            f.write(text)
        os.replace(temporary, path)
        log.file_lines = len(kept) + min(len(batch.lines), self.limit)
        log.file_chars = chars


def _ends_a_line(path: Path) -> bool:
    """Whether the file is empty or its last byte is a newline."""
    with open(path, "rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return True
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


_VALUE = json.JSONEncoder(ensure_ascii=False).encode
_STRING = json.encoder.encode_basestring  # a str as _VALUE writes it, faster


def _encode(batch: LogBatch) -> str:
    """JSON lines, each as ``json.dumps(record.to_dict(), ensure_ascii=False)`` writes it. The
    records of a batch differ only in seq and line: the rest is encoded once (a flood's
    lines cost a fifth of encoding each whole)."""
    middle = (
        f', "ts": {_VALUE(batch.ts)}, "key": {_VALUE(batch.key)},'
        f' "stream": {_VALUE(batch.stream)}, "line": '
    )
    end = (
        f', "process": {_VALUE(batch.process)}, "release": {_VALUE(batch.release)},'
        f' "app": {_VALUE(batch.app)}}}\n'
    )
    return "".join(
        f'{{"seq": {seq}{middle}{_STRING(line)}{end}'
        for seq, line in enumerate(batch.lines, batch.first)
    )
