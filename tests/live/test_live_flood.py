"""A log flood through the real platform and ``rig logs app -f -o json``: every line arrives,
once, in order, even when rig stops reading for a while; a follower so far behind that the
platform no longer keeps its lines is told how many it missed."""

from __future__ import annotations

import json
import signal
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from maxlocal.runtime.logstore import HOLD_FACTOR
from tests.live.conftest import Running, User
from tests.support.platform import Platform, PlatformFactory

MakeUser = Callable[[Platform, str], User]

# Answers on PORT (the health check); for each file that appears in TRIGGERS, reads
# "WORD N [WIDTH]" from it: "flood N WIDTH" writes lines "flood 1 xxx…" .. "flood N xxx…"
# (WIDTH x's) in blocks as fast as it can, then "flood-end N"; "mark N" writes "mark N".
FLOODER = textwrap.dedent(
    """
    import http.server, os, threading, time

    TRIGGERS = {triggers!r}
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", int(os.environ["PORT"])), http.server.BaseHTTPRequestHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = os.sys.stdout.fileno()
    while True:
        for name in sorted(os.listdir(TRIGGERS)):
            path = os.path.join(TRIGGERS, name)
            with open(path) as f:
                word, count, *width = f.read().split()
            os.unlink(path)
            count = int(count)
            pad = " " + "x" * int(width[0]) if width and int(width[0]) else ""
            if word == "mark":
                os.write(out, f"mark {{count}}\\n".encode())
            else:
                for start in range(1, count + 1, 500):
                    block = range(start, min(count, start + 499) + 1)
                    os.write(out, "".join(f"flood {{i}}{{pad}}\\n" for i in block).encode())
                os.write(out, f"flood-end {{count}}\\n".encode())
        time.sleep(0.01)
    """
)


class Flooder:
    def __init__(self, user: User, root: Path, platform: Platform) -> None:
        user.ok("create", "network", "floods")
        # In the app's home: the sandboxed app sees that, not the test's directory. Made
        # once the network exists: creating a network clears what was left under its name.
        self.user, self.triggers = user, platform.app_home("floods", "flooder") / "triggers"
        source = root / "flooder"
        source.mkdir(parents=True)
        self.triggers.mkdir()
        (source / "Procfile").write_text("web: python app.py\n")
        (source / "app.py").write_text(FLOODER.format(triggers=str(self.triggers)))
        user.ok("deploy", str(source), "--app", "flooder", "--network", "floods", "--create")
        self._marks = 0

    def trigger(self, word: str, count: int, width: int = 0) -> None:
        temporary = self.triggers.parent / "next"
        temporary.write_text(f"{word} {count} {width}")
        temporary.rename(self.triggers / str(time.monotonic_ns()))

    def mark(self) -> int:
        self._marks += 1
        self.trigger("mark", self._marks)
        return self._marks


def flood_records(run: Running, count: int) -> list[dict[str, Any]]:
    """What rig printed up to the flood's end line, as records (``-o json``)."""
    got: list[dict[str, Any]] = []
    while True:
        record = json.loads(run.lines(1, timeout=60)[0])
        if record.get("line") == f"flood-end {count}":
            return got
        got.append(record)


@pytest.fixture
def flooder(platform: Platform, make_user: MakeUser, tmp_path: Path) -> Flooder:
    return Flooder(make_user(platform, "flood@example.com"), tmp_path, platform)


def start_json_follow(flooder: Flooder) -> Running:
    """``rig logs app flooder -f -o json``, once it follows live: it printed a line written
    after it showed a stored one, which only the socket can have brought."""
    flooder.mark()
    deadline = time.monotonic() + 20
    while "mark" not in flooder.user.ok("logs", "app", "flooder", "--network", "floods"):
        assert time.monotonic() < deadline, "the app wrote nothing"
        time.sleep(0.05)
    run = flooder.user.start(
        "logs", "app", "flooder", "--network", "floods", "-f", "--tail", "1", "-o", "json"
    )
    run.lines(1, timeout=30)
    mark = flooder.mark()
    while json.loads(run.lines(1, timeout=30)[0]).get("line") != f"mark {mark}":
        pass
    return run


def assert_complete(got: list[dict[str, Any]], count: int, width: int = 0) -> None:
    pad = " " + "x" * width if width else ""
    lines = [r.get("line") for r in got]
    assert lines == [f"flood {i}{pad}" for i in range(1, count + 1)], next(
        (r for r in got if "skipped" in r), None
    )
    seqs = [r["seq"] for r in got]
    assert seqs == list(range(seqs[0], seqs[0] + count))


def test_a_flood_arrives_complete_and_in_order(flooder: Flooder, running: list[Running]) -> None:
    follow = start_json_follow(flooder)
    running.append(follow)
    count = 60_000
    started = time.monotonic()
    flooder.trigger("flood", count)
    got = flood_records(follow, count)
    elapsed = time.monotonic() - started
    assert_complete(got, count)
    print(f"{count:,} lines through the platform and rig in {elapsed:.2f} s")


def test_a_follower_that_stops_reading_gets_every_line_when_it_reads_again(
    flooder: Flooder, running: list[Running]
) -> None:
    """rig stopped (SIGSTOP) while the app writes three times the log limit, 15 MB, more than
    the connection holds: the platform sends it only what the connection takes, keeps its
    place, and sends the rest when it reads again."""
    follow = start_json_follow(flooder)
    running.append(follow)
    count, width = 30_000, 500
    follow.proc.send_signal(signal.SIGSTOP)
    try:
        flooder.trigger("flood", count, width)
        deadline = time.monotonic() + 30
        tail = ["logs", "app", "flooder", "--network", "floods", "--tail", "1"]
        while f"flood-end {count}" not in flooder.user.ok(*tail):
            assert time.monotonic() < deadline, "the flood did not end"
            time.sleep(0.1)
        time.sleep(0.5)  # more stored meanwhile: the platform has moved on from rig's place
    finally:
        follow.proc.send_signal(signal.SIGCONT)
    assert_complete(flood_records(follow, count), count, width)


def test_a_follower_behind_what_the_platform_keeps_is_told_what_it_missed(
    platform_factory: PlatformFactory,
    make_user: MakeUser,
    tmp_path: Path,
    running: list[Running],
) -> None:
    """With 100 lines kept (and up to HOLD_FACTOR times that for a follower behind), a
    stopped rig misses most of a flood ten times what can be held for it (more than the
    kernel's socket buffers take in too): it says how many lines it skipped, then goes on
    in order."""
    limit = 100
    platform = platform_factory(log_limit=limit)
    flooder = Flooder(make_user(platform, "slow@example.com"), tmp_path, platform)
    follow = start_json_follow(flooder)
    running.append(follow)
    count = 10 * HOLD_FACTOR * limit
    follow.proc.send_signal(signal.SIGSTOP)
    try:
        flooder.trigger("flood", count)
        deadline = time.monotonic() + 30
        tail = ["logs", "app", "flooder", "--network", "floods", "--tail", "1"]
        while f"flood-end {count}" not in flooder.user.ok(*tail):
            assert time.monotonic() < deadline, "the flood did not end"
            time.sleep(0.1)
    finally:
        follow.proc.send_signal(signal.SIGCONT)
    got = flood_records(follow, count)
    # Each time the platform finds rig's place gone it says how many lines it skipped (it
    # can fall behind more than once while the kernel's buffers still take frames in).
    assert any("skipped" in r for r in got), "no line was said to be skipped"
    expected, offsets = 1, set()
    for record in got:
        if "skipped" in record:
            assert record["skipped"] > 0
            expected += record["skipped"]
            continue
        number = int(record["line"].split()[1])
        assert number == expected, f"line {number} where {expected} was due"
        offsets.add(record["seq"] - number)
        expected += 1
    # every line in order, each once, and the markers count exactly the lines not shown
    assert expected == count + 1
    assert len(offsets) == 1, "the seqs are not the lines' own"
