"""Following an app's log with the real ``rig logs -f -o json``, and checking what it showed
against what the app wrote.

Seqs alone cannot tell a lost line: a platform that gives a restarted app's first lines seqs
it had already used shows an unbroken run of seqs while those lines are never shown (rig drops
a seq it has seen). So the ticker app numbers its lines itself (``tick N run ID``, N from 1
in each run of the app) and writes each line to a file of its own before printing it; the
check holds the follower's lines to that file: the text is what the app wrote, each run's
counter goes on by one, and a run that began while the follow was on is shown from ``tick 1``.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.reliability.terminal import TerminalRun, in_terminal
from tests.support.cli import Rig, base_env
from tests.support.platform import Platform

LINES_PER_S = 20
TICK = re.compile(r"tick (\d+) run (\d+)")

_TICKER = """\
import http.server, itertools, os, sys, threading, time
RUN = time.time_ns()  # not the pid: in its own PID namespace every run is pid 2 or so
def tick():
    for n in itertools.count(1):
        line = f"tick {{n}} run {{RUN}}"
        with open({written!r}, "a") as f:  # what the app wrote, whatever became of it
            f.write(line + "\\n")
        print(line, flush=True)
        time.sleep({period})
threading.Thread(target=tick, daemon=True).start()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def ticker(written: Path) -> str:
    """The app's source: ``tick N run ID`` LINES_PER_S times a second, each line appended
    to ``written`` before it is printed."""
    return _TICKER.format(written=str(written), period=1 / LINES_PER_S)


def ticker_app(platform: Platform) -> tuple[dict[str, str], Path]:
    """The files of app ``ticker`` of network ``live``, and the file it appends its lines
    to: in the app's own home, the one place a sandboxed app writes that the test reads."""
    written = platform.app_home("live", "ticker") / "written.log"
    return {"app.py": ticker(written), "Procfile": "web: python3 app.py\n"}, written


def start_follower(rig: Rig, index: int, tmp: Path) -> tuple[TerminalRun, Path]:
    """``rig logs app ticker --network live -f -o json > FILE`` on a terminal of its own
    (stderr on the terminal; Ctrl+C ends it); the FILE."""
    out = tmp / f"follow-{index}.ndjson"
    env = {**base_env(rig.config_dir), **rig.env}
    argv = [sys.executable, "-m", "rig", "logs", "app", "ticker", "--network", "live", "-f"]
    return in_terminal([*argv, "-o", "json"], env, stdout=out), out


@dataclass
class FollowCheck:
    """One follower's lines held to the app's: ``problems`` says each line lost or doubled."""

    lines: int = 0
    lost: int = 0
    doubled: int = 0
    problems: list[str] = field(default_factory=list)

    def wrong(self, lost: int, doubled: int, problem: str) -> None:
        self.lost += lost
        self.doubled += doubled
        self.problems.append(problem)


def shown_ticks(path: Path) -> int:
    """How many of the app's lines the follower has shown so far."""
    return sum(1 for line in _records(path) if TICK.fullmatch(str(line.get("line", ""))))


def check_follow(
    path: Path, written: Path, stored: list[dict[str, Any]] | None = None
) -> FollowCheck:
    """The follower's output at ``path`` against the app's own record ``written`` (and, when
    given, the lines the platform ``stored``): every line shown once, in order, as written;
    no line of a run skipped from the first shown to the last (a run the follow saw begin
    from ``tick 1``); no gap in seqs; a run that ended before the follow did shown up to the
    last line the platform stored of it."""
    check = FollowCheck()
    records = _records(path)
    runs = _runs(written.read_text().splitlines())
    written_lines = {line for lines in runs.values() for line in lines}
    seqs: list[int] = []
    shown: dict[str, list[int]] = {}  # run -> counters shown, in order of first showing
    for record in records:
        if "skipped" in record:
            check.wrong(int(record["skipped"]), 0, f"the follower said {record} were skipped")
        if "seq" in record:
            seqs.append(int(record["seq"]))
        line = str(record.get("line", ""))
        if record.get("stream") != "stdout":
            continue
        check.lines += 1
        tick = TICK.fullmatch(line)
        if tick is None or line not in written_lines:
            check.problems.append(f"shown but never written by the app: {line!r}")
            continue
        shown.setdefault(tick[2], []).append(int(tick[1]))
    if seqs and len(seqs) != len(set(seqs)):
        check.wrong(0, len(seqs) - len(set(seqs)), f"seqs shown twice: {_repeats(seqs)}")
    if seqs and (gap := max(seqs) - min(seqs) + 1 - len(set(seqs))):
        check.wrong(gap, 0, f"{gap} seqs missing between {min(seqs)} and {max(seqs)}")
    last_stored = _last_stored(stored or [])
    order = list(runs)
    shown_order = [run for run in order if run in shown]
    for index, run in enumerate(shown_order):
        counters = shown[run]
        if len(counters) != len(set(counters)):
            check.wrong(0, len(counters) - len(set(counters)),
                        f"run {run}: ticks shown twice: {_repeats(counters)}")  # fmt: skip
        if counters != sorted(counters):
            check.problems.append(f"run {run}: ticks shown out of order: {counters[:20]}...")
        first = counters[0] if index == 0 else 1  # the follow was on when a later run began
        last = counters[-1]
        if run != shown_order[-1]:  # ended: what the platform stored of it is due in full
            last = max(last, last_stored.get(run, 0))
        missing = sorted(set(range(first, last + 1)) - set(counters))
        if missing:
            check.wrong(len(missing), 0,
                        f"run {run}: written by the app but never shown: "
                        f"{', '.join(f'tick {n}' for n in missing[:10])}"
                        f"{' ...' if len(missing) > 10 else ''}")  # fmt: skip
    if shown_order:  # a whole run of the app between two shown ones, never shown
        between = order[order.index(shown_order[0]) : order.index(shown_order[-1])]
        for run in between:
            if run not in shown:
                check.wrong(len(runs[run]), 0, f"run {run} ({len(runs[run])} lines) never shown")
    return check


def _records(path: Path) -> list[dict[str, Any]]:
    """The follower's records so far (a last line still being written is left out; none
    before the terminal's shell has opened the file)."""
    records: list[dict[str, Any]] = []
    if not path.exists():
        return records
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            records.append(json.loads(line))
    return records


def _runs(written: list[str]) -> dict[str, list[str]]:
    """The app's lines by run, runs in the order they began."""
    runs: dict[str, list[str]] = {}
    for line in written:
        tick = TICK.fullmatch(line)
        if tick is not None:
            runs.setdefault(tick[2], []).append(line)
    return runs


def _last_stored(stored: list[dict[str, Any]]) -> dict[str, int]:
    last: dict[str, int] = {}
    for record in stored:
        tick = TICK.fullmatch(str(record.get("line", "")))
        if tick is not None:
            last[tick[2]] = max(last.get(tick[2], 0), int(tick[1]))
    return last


def _repeats(values: list[int]) -> list[int]:
    return sorted(value for value, times in Counter(values).items() if times > 1)[:10]
