"""The shell's live side in a real pseudo-terminal: the socket in the toolbar, completion of
a name created elsewhere, `logs app -f &` above a half-typed line, jobs, fg, kill, `watch`.

What the user sees is checked on a terminal emulator (pyte) fed with everything rig writes,
so a line garbled by output arriving mid-typing would show.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pyte
import pytest

from tests.support.platform import Platform
from tests.terminal.conftest import rig
from tests.terminal.test_terminal_shell import start

pytestmark = pytest.mark.alone  # a screen read on a deadline

ROWS, COLS = 30, 140
TICKER = """\
import itertools, sys, time

for n in itertools.count(1):
    print({label!r}, n, flush=True)
    time.sleep(0.1)
"""


class Screen(pyte.HistoryScreen):
    """Answers the cursor position requests prompt_toolkit sends, as a terminal does (without
    the answer it cannot tell the space below the prompt, and hides the toolbar), and keeps
    what scrolled off the top, as a terminal's scrollback does."""

    def __init__(self, child: pexpect.spawn) -> None:
        super().__init__(COLS, ROWS, history=5000)
        self.child = child

    def write_process_input(self, data: str) -> None:
        self.child.send(data)


class Terminal:
    """A pexpect child whose output also drives a pyte screen."""

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child
        self.screen = Screen(child)
        self.stream = pyte.Stream(self.screen)
        child.logfile_read = self

    def write(self, data: str) -> None:
        self.stream.feed(data)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def scrollback(self) -> str:
        """Everything shown so far: a line a backlog of log lines pushed off the top between
        two looks at the screen is still there, as the user scrolling up would find it."""
        cols = range(self.screen.columns)
        gone = ["".join(line[x].data for x in cols).rstrip() for line in self.screen.history.top]
        return "\n".join([*gone, self.text()])

    def cursor_line(self) -> str:
        return self.screen.display[self.screen.cursor.y].rstrip()

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.child.read_nonblocking(65536, timeout=0.05)
            except pexpect.TIMEOUT:
                continue

    def wait(self, check: Callable[[str], object], what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self.text()):
                return
            self.pump(0.1)
        raise AssertionError(f"never saw {what}; the screen:\n{self.text()}")

    def wait_for(self, pattern: str, timeout: float = 15) -> None:
        self.wait(lambda text: re.search(pattern, text, re.M), repr(pattern), timeout)

    def wait_for_ever_shown(self, pattern: str) -> None:
        self.wait(lambda _: re.search(pattern, self.scrollback(), re.M), repr(pattern))


def ticks(text: str, prefix: str) -> list[int]:
    return [int(n) for n in re.findall(re.escape(prefix) + r" (\d+)\s*$", text, re.M)]


def deploy_ticker(env: dict[str, str], root: Path, app: str) -> None:
    root.mkdir()
    (root / "Procfile").write_text("worker: python tick.py\n")
    (root / "tick.py").write_text(TICKER.format(label=f"{app}-tick"))
    rig(env, "deploy", str(root), "--app", app, "--network", "shop", "--create")


@pytest.fixture
def live_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    deploy_ticker(env, tmp_path / "worker", "worker")
    deploy_ticker(env, tmp_path / "ticker", "ticker")
    return env


def test_live_logs_jobs_and_watch_as_a_user_would(
    live_env: dict[str, str], platform: Platform
) -> None:
    env = {k: v for k, v in live_env.items() if k != "PROMPT_TOOLKIT_NO_CPR"}
    child = start(env)
    term = Terminal(child)
    term.wait_for(r"rig dev>")
    term.wait_for(r"● connected")

    child.sendline("use network shop")
    term.wait_for(r"rig dev:shop>$")
    child.sendline("use app ticker")
    term.wait_for(r"rig dev:shop/ticker>$")

    # created from another terminal: completable once the socket's event arrives (this shell
    # never polls for names; how soon is the bench's figure)
    subprocess.run(
        [sys.executable, "-m", "rig", "create", "app", "fresh-app", "--network", "shop"],
        env=env,
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + 15
    child.send("details app fre")
    while "details app fresh-app" not in term.cursor_line():  # Tab until the name completes
        assert time.monotonic() < deadline, f"never completed; the screen:\n{term.text()}"
        child.send("\t")
        with contextlib.suppress(AssertionError):
            term.wait(lambda _: "details app fresh-app" in term.cursor_line(), "the name", 0.2)
    child.sendcontrol("c")
    term.wait(lambda _: term.cursor_line().endswith("rig dev:shop/ticker>"), "a clean prompt")

    # a follow in the background prints above the prompt, with the app on every line,
    # while a half-typed command line stays as it is and then runs
    child.sendline("logs app ticker -f &")
    term.wait_for_ever_shown(r"\[1\] logs app ticker -f")  # the backlog may push it up
    term.wait_for(r"\[1\] \S+ ticker\[worker\.1\] stdout\| ticker-tick \d+")
    shown = term.scrollback()
    assert shown.index("[1] logs app ticker -f") < shown.index("ticker-tick"), shown
    child.send("list netw")
    seen = max(ticks(term.text(), "ticker-tick"))
    term.wait(lambda text: max(ticks(text, "ticker-tick")) >= seen + 5, "more lines")
    term.wait(  # between two redraws: a snapshot may catch one half done
        lambda _: term.cursor_line().endswith("rig dev:shop/ticker> list netw"),
        "the half-typed line kept under the new lines",
    )
    numbers = ticks(term.text(), "ticker-tick")
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), term.text()
    child.send("orks\r")
    term.wait_for(r"shop\s+shop\.localhost")

    child.sendline("jobs")
    term.wait_for(r"\[1\] running  logs app ticker -f")
    child.sendline("kill 1")
    term.wait_for(r"\[1\] killed   logs app ticker -f")
    # kill prints the job's lines not shown yet before it reports: nothing more from it after
    term.wait(lambda _: term.cursor_line().endswith("rig dev:shop/ticker>"), "the prompt")
    last = max(ticks(term.text(), "ticker-tick"))
    term.pump(1)
    assert max(ticks(term.text(), "ticker-tick")) == last
    assert "ticker-tick" not in term.text().split("[1] killed")[-1], term.text()

    # fg brings a job to the foreground; Ctrl+C there kills it and the prompt comes back
    child.sendline("logs app worker -f &")
    term.wait_for_ever_shown(r"\[2\] logs app worker -f")
    # (lines the job wrote before fg come first, and none of it shows above the prompt after)
    child.sendline("fg 2")
    term.wait_for(r"^\S+ worker\[worker\.1\] stdout\| worker-tick \d+")
    child.sendcontrol("c")
    term.wait_for(r"\[2\] killed   logs app worker -f")
    term.wait(lambda _: term.cursor_line().endswith("rig dev:shop/ticker>"), "the prompt")
    numbers = ticks(term.text(), "worker-tick")  # from the top: in the background, then not
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), term.text()
    assert re.search(r"\[2\] killed   logs app worker -f\nrig dev:shop/ticker>", term.text())
    child.sendline("jobs")
    term.wait_for(r"> jobs\n(.*\n)*\[2\] killed   logs app worker -f")

    # Ctrl+C on a half-typed line drops it
    child.send("delete app tick")
    term.wait(lambda _: term.cursor_line().endswith("> delete app tick"), "the half-typed line")
    child.sendcontrol("c")
    term.wait(lambda _: term.cursor_line().endswith("rig dev:shop/ticker>"), "a fresh prompt")

    # watch: both apps' lines in their own panes, q leaves
    child.sendline("watch ticker worker")
    term.wait_for(r"shop/ticker +following")
    term.wait_for(r"shop/worker +following")
    term.wait(
        lambda text: len(ticks(text, "ticker-tick")) > 3 and len(ticks(text, "worker-tick")) > 3,
        "lines in both panes",
    )
    term.wait_for(r"connected")
    child.send("q")
    term.wait(lambda _: term.cursor_line().endswith("rig dev:shop/ticker>"), "the prompt again")

    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
