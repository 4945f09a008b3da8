"""The update check (rig/update.py) against an HTTP server this test starts on loopback: a
refresh in the background after a one-shot command on a terminal, its answer shown once on
the next run, at most one request a day, off under RIG_NO_UPDATE_CHECK=1, CI=true and off a
terminal, and a command that never waits for it nor fails because of it."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pexpect
import pytest

from tests.support.cli import ROOT, base_env

LATEST = "99.1.0"


@dataclass
class Index:
    """A stand-in package index: answers PyPI's JSON shape; ``hold`` keeps requests waiting."""

    url: str = ""
    requests: list[str] = field(default_factory=list)
    hold: threading.Event | None = None
    version: str = LATEST


@pytest.fixture
def index() -> Iterator[Index]:
    state = Index()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if state.hold is not None:
                state.hold.wait(30)
            body = json.dumps({"info": {"version": state.version}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/pypi/maxrig/json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    if state.hold is not None:
        state.hold.set()
    server.shutdown()
    server.server_close()


def _env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    env = base_env(tmp_path / "config")
    for name in ("RIG_NO_UPDATE_CHECK", "CI"):
        env.pop(name, None)
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), RIG_UPDATE_URL=url, **extra)
    return env


def _on_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """``rig ARGS`` in a pseudo-terminal: its exit code and everything it printed."""
    child = pexpect.spawn(
        sys.executable, ["-m", "rig", *args], env=env, cwd=str(ROOT), encoding="utf-8", timeout=30
    )
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.before or ""


def _cache(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "rig" / "update-check.json"


def _wait_for_latest(tmp_path: Path) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            state = json.loads(_cache(tmp_path).read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("latest"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"no refresh reached the cache: {_cache(tmp_path)}")


def test_a_refresh_in_the_background_is_shown_once_on_the_next_run(
    tmp_path: Path, index: Index
) -> None:
    env = _env(tmp_path, index.url)
    code, out = _on_terminal(env, "context", "list")
    assert code == 0, out
    assert "available" not in out  # nothing known yet: the first run says nothing
    assert _wait_for_latest(tmp_path)["latest"] == LATEST
    assert index.requests == ["/pypi/maxrig/json"]

    code, out = _on_terminal(env, "context", "list")
    assert code == 0, out
    assert f"rig: {LATEST} is available (this is " in out
    assert "uv tool upgrade maxrig" in out

    code, out = _on_terminal(env, "context", "list")
    assert code == 0 and "available" not in out, out  # once, not on every run
    time.sleep(0.5)  # a refresh started by mistake would have asked by now
    assert len(index.requests) == 1  # at most once a day


@pytest.mark.parametrize("setting", [{"RIG_NO_UPDATE_CHECK": "1"}, {"CI": "true"}])
def test_off_when_asked_and_in_ci(tmp_path: Path, index: Index, setting: dict[str, str]) -> None:
    code, out = _on_terminal(_env(tmp_path, index.url, **setting), "context", "list")
    assert code == 0, out
    assert not _cache(tmp_path).exists()  # the claim is written before a refresh starts
    assert index.requests == []


def test_off_a_terminal_and_under_json(tmp_path: Path, index: Index) -> None:
    env = _env(tmp_path, index.url)
    piped = subprocess.run(
        [sys.executable, "-m", "rig", "context", "list"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert piped.returncode == 0, piped.stderr
    code, out = _on_terminal(env, "-o", "json", "context", "list")
    assert code == 0, out
    assert not _cache(tmp_path).exists()
    assert index.requests == []


def test_a_hanging_or_absent_index_neither_blocks_nor_fails_a_command(
    tmp_path: Path, index: Index
) -> None:
    index.hold = threading.Event()
    code, out = _on_terminal(_env(tmp_path, index.url), "context", "list")
    assert code == 0, out
    deadline = time.monotonic() + 20
    while not index.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert index.requests  # asked, and still unanswered while the command has long exited
    assert "latest" not in json.loads(_cache(tmp_path).read_text())

    nowhere = _env(tmp_path / "second", "http://127.0.0.1:9/nothing-listens")
    code, out = _on_terminal(nowhere, "context", "list")
    assert code == 0, out
    assert "no contexts" in out


def test_an_answer_that_is_no_version_is_not_kept(tmp_path: Path, index: Index) -> None:
    """A hostile index cannot put terminal escapes into the notice."""
    index.version = "9.9\x1b]52;c;aGk=\x07"
    code, out = _on_terminal(_env(tmp_path, index.url), "context", "list")
    assert code == 0, out
    deadline = time.monotonic() + 20
    while not index.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)  # the refresh has had its answer
    assert index.requests
    assert "latest" not in json.loads(_cache(tmp_path).read_text())
    code, out = _on_terminal(_env(tmp_path, index.url), "context", "list")
    assert code == 0 and "available" not in out and "\x1b]52" not in out, out
