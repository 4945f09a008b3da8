"""Log latency and throughput through the whole path: an app's output → the platform → rig.

One app is deployed with ``rig deploy``. It answers on ``PORT`` (the health check) and waits
for a trigger file in the bench's directory, then writes lines on stdout:

- ``latency N INTERVAL``: N lines ``lat I NS``, one every INTERVAL seconds, each flushed,
  where NS is ``time.time_ns()`` just before the write;
- ``flood SECONDS``: ``flood I`` as fast as it can (blocks of lines, one write each) for
  SECONDS, then ``flood-end COUNT``;
- ``mark TEXT``: one line ``mark TEXT``.

Each measurement starts once rig follows on the socket: rig prints the stored lines it read
first, so a line written after one of those is printed can only come to it live.

The bench runs ``rig logs app NAME -f -o json`` and reads its NDJSON output, noting the time
(same machine clock) at which each line arrives: latency is arrival - NS; throughput is the
lines of the flood over the time from the first to the last arriving, all of them there and
their seqs contiguous.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.platform import NETWORK, Platform, rig_executable

APP = "logbench"
# The flood's lines in rig's NDJSON are read in whole reads, by literal prefixes (the bench
# reading each line as JSON, or by a pattern that scans each line, takes as long as rig takes
# to print it, and a reader slower than rig holds rig back)
SEQ = re.compile(rb'\{"seq": (\d+)')
FLOOD = b'"line": "flood '
FLOOD_END = re.compile(rb'"line": "flood-end (\d+)"')
READ_TIMEOUT = 60.0

APP_SOURCE = textwrap.dedent(
    """
    import http.server, os, sys, threading, time

    TRIGGERS = {triggers!r}
    asked = []


    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # GET /trigger/latency/100/0.005: where the app cannot see TRIGGERS
            if self.path.startswith("/trigger/"):
                asked.append(self.path.split("/")[2:])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass


    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = sys.stdout.fileno()


    def latency(count, interval):
        for i in range(1, count + 1):
            os.write(out, f"lat {{i}} {{time.time_ns()}}\\n".encode())
            time.sleep(interval)


    def flood(seconds):
        n, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            block = "".join(f"flood {{i}}\\n" for i in range(n + 1, n + 501))
            os.write(out, block.encode())
            n += 500
        os.write(out, f"flood-end {{n}}\\n".encode())


    def triggered():
        while asked:
            yield asked.pop(0)
        for name in sorted(os.listdir(TRIGGERS)) if os.path.isdir(TRIGGERS) else []:
            if name.startswith("."):
                continue
            path = os.path.join(TRIGGERS, name)
            with open(path) as f:
                words = f.read().split()
            os.unlink(path)
            yield words


    while True:
        for words in triggered():
            if words[0] == "latency":
                latency(int(words[1]), float(words[2]))
            elif words[0] == "flood":
                flood(float(words[1]))
            elif words[0] == "mark":
                os.write(out, f"mark {{words[1]}}\\n".encode())
        time.sleep(0.01)
    """
)


@dataclass
class LogApp:
    platform: Platform
    triggers: Path

    def trigger(self, *words: object) -> None:
        """A file in the app's home; on a runtime whose apps do not see this machine's files
        (swarm), a request through the platform's router."""
        if self.platform.runtime != "process":
            _get(self.platform, "/trigger/" + "/".join(str(w) for w in words))
            return
        temporary = self.triggers.parent / ".next-trigger"
        temporary.write_text(" ".join(str(w) for w in words))
        temporary.rename(self.triggers / f"{time.monotonic_ns()}")


def deploy(platform: Platform) -> LogApp:
    """Write the app and deploy it as ``bench/logbench``; wait until it runs."""
    source = platform.root / "logbench"
    # In the app's home: a sandboxed app sees that, not the bench's own directory. (The
    # network exists already, seeded: creating one clears what was left under its name.)
    triggers = platform.root / "data" / "homes" / "apps" / NETWORK / APP / "triggers"
    source.mkdir()
    triggers.mkdir(parents=True)
    (source / "Procfile").write_text("web: python app.py\n")
    (source / "app.py").write_text(APP_SOURCE.format(triggers=str(triggers)))
    command = [rig_executable(), "deploy", str(source), "--app", APP, "--network", NETWORK]
    subprocess.run(
        [*command, "--create", "-o", "json"],
        env=platform.env,
        capture_output=True,
        check=True,
        timeout=120,
    )
    app = LogApp(platform, triggers)
    app.trigger("mark", "deployed")  # a follow's --tail 1 has a line to print at once
    deadline = time.monotonic() + READ_TIMEOUT
    while not platform.api("GET", f"/networks/{NETWORK}/apps/{APP}/logs?grep=mark"):
        if time.monotonic() > deadline:
            raise TimeoutError("the app wrote no line")
        time.sleep(0.05)
    return app


def _get(platform: Platform, path: str) -> None:
    parts = urlsplit(platform.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": f"{APP}.{NETWORK}.localhost"})
        response = conn.getresponse()
        response.read()
        if response.status != 204:
            raise RuntimeError(f"{APP} answered {response.status} to {path}")
    finally:
        conn.close()


class Follow:
    """``rig logs app logbench -f -o json`` running; its lines with their arrival times."""

    def __init__(self, app: LogApp) -> None:
        command = [rig_executable(), "logs", "app", APP, "--network", NETWORK, "-f", "-o", "json"]
        self.proc = subprocess.Popen(
            [*command, "--tail", "1"],
            env=app.platform.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._rest = b""

    def chunks(self, timeout: float = READ_TIMEOUT) -> Iterator[tuple[int, bytes]]:
        """(arrival time in ns, complete lines) for each read of rig's output, until
        ``timeout`` passes without one."""
        while True:
            ready, _, _ = select.select([self._fd], [], [], timeout)
            if not ready:
                raise TimeoutError(f"rig printed nothing for {timeout:.0f} s")
            chunk = os.read(self._fd, 1 << 20)
            arrived = time.time_ns()
            if not chunk:
                raise RuntimeError(f"rig logs -f ended: {self._stderr()}")
            complete, _, self._rest = (self._rest + chunk).rpartition(b"\n")
            if complete:
                yield arrived, complete

    def records(self) -> Iterator[tuple[int, dict[str, object]]]:
        """(arrival time in ns, record) for each line rig prints."""
        for arrived, lines in self.chunks():
            for line in lines.split(b"\n"):
                yield arrived, json.loads(line)

    def first_line(self) -> None:
        """Wait for rig's first line (with ``--tail 1``: the stored one it read)."""
        next(self.chunks())

    def wait_for(self, prefix: str) -> None:
        """Skip lines until one of the app's lines starts with ``prefix`` (rig is following)."""
        for _, record in self.records():
            if str(record.get("line", "")).startswith(prefix):
                return

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def _stderr(self) -> str:
        assert self.proc.stderr is not None
        self.proc.kill()
        return self.proc.stderr.read().decode(errors="replace")[-500:]


def latencies(app: LogApp, count: int, interval: float) -> list[float]:
    """Milliseconds from each of ``count`` lines written to rig printing it."""
    follow = Follow(app)
    try:
        _ready(app, follow)
        app.trigger("latency", count, interval)
        found: list[float] = []
        for arrived, record in follow.records():
            words = str(record.get("line", "")).split()
            if words[:1] == ["lat"]:
                found.append((arrived - int(words[2])) / 1e6)
                if len(found) == count:
                    return found
    finally:
        follow.stop()
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Flood:
    lines: int
    seconds: float
    printed: int
    contiguous: bool

    @property
    def rate(self) -> float:
        return self.printed / self.seconds if self.seconds > 0 else 0.0

    @property
    def complete(self) -> bool:
        return self.contiguous and self.printed == self.lines


def flood(app: LogApp, seconds: float) -> Flood:
    """The app writes as fast as it can for ``seconds``; what rig printed, and how fast."""
    follow = Follow(app)
    try:
        _ready(app, follow)
        app.trigger("flood", seconds)
        first = last = printed = 0
        expected: int | None = None  # the next seq, when every one so far came in order
        contiguous = True
        for arrived, lines in follow.chunks():
            end = FLOOD_END.search(lines)
            if end is not None:  # what comes before the end line counts
                lines = lines[: max(0, lines.rfind(b"\n", 0, end.start()))]
            count = lines.count(FLOOD)
            if count:
                first, last = first or arrived, arrived
                printed += count
                seqs = [int(seq) for seq in SEQ.findall(lines)]
                expected = seqs[0] if expected is None else expected
                contiguous = contiguous and seqs == list(range(expected, expected + len(seqs)))
                expected += len(seqs)
            if end is not None:
                return Flood(int(end.group(1)), (last - first) / 1e9, printed, contiguous)
    finally:
        follow.stop()
    raise AssertionError("unreachable")


def idle_cpu(app: LogApp, seconds: float) -> float:
    """Percent of one CPU that ``rig logs app -f`` uses over ``seconds`` with no line to show."""
    import psutil

    follow = Follow(app)
    try:
        _ready(app, follow)
        process = psutil.Process(follow.proc.pid)
        before, start = process.cpu_times(), time.monotonic()
        time.sleep(seconds)
        after, elapsed = process.cpu_times(), time.monotonic() - start
    finally:
        follow.stop()
    used = (after.user - before.user) + (after.system - before.system)
    return 100 * used / elapsed


def _ready(app: LogApp, follow: Follow) -> None:
    """Wait until rig follows live: it shows a line written after it showed a stored one
    (a line written merely after rig started may be among those it read stored, before
    joining the socket — a flood started then would be measured from the history read)."""
    follow.first_line()
    mark = f"ready-{time.monotonic_ns()}"
    app.trigger("mark", mark)
    follow.wait_for(f"mark {mark}")
